// /trading/: tutorial 003's page on `ws/cryptocurrency/`: name, price and timestamp of the
// latest crypto price; choosing another sends {"cryptocurrency": ...}.
import { ReconnectingSocket, socketUrl, coalesce } from "./tickstream.js";
import { decimalsOf, formatPrice, formatTime } from "./format.js";
import { instruments, showConnection } from "./ui.js";

const root = document.getElementById("trading");
const picker = document.getElementById("crypto-picker");
const cryptos = instruments().filter((i) => i.kind === "crypto");
const byName = new Map(cryptos.map((i) => [i.name, i]));
const el = (id) => document.getElementById(id);
let chosen = null;

const socket = new ReconnectingSocket(socketUrl("/ws/cryptocurrency/"), {
  onstate: showConnection,
  onopen: () => chosen && socket.send({ cryptocurrency: chosen }),
  onmessage: (raw) => {
    const data = JSON.parse(raw);
    if (data.error || !data.name) return;
    coalesce("crypto", () => render(data));
  },
});

function render(data) {
  const instrument = byName.get(data.name);
  el("cryptocurrency-name").textContent = data.name;
  el("cryptocurrency-price").textContent = formatPrice(data.price, decimalsOf(instrument?.tick_size));
  const stamp = el("cryptocurrency-timestamp");
  // "2026-11-22 03:45:42.123000+00:00" (the tutorial's str(datetime)) -> ISO 8601.
  let iso = data.timestamp.replace(" ", "T");
  if (!/(Z|[+-]\d\d:\d\d)$/.test(iso)) iso += "Z";
  stamp.dateTime = iso;
  stamp.title = `${data.timestamp} UTC`;
  stamp.textContent = formatTime(iso, { withDate: true });
  if (instrument && !chosen) picker.value = instrument.symbol;
  root.dataset.name = data.name;
}

picker.addEventListener("change", () => {
  chosen = picker.value;
  socket.send({ cryptocurrency: chosen });
});
