// /stocks/: tutorial 002's page on `ws/stocks/`, which streams a default stock from the
// start; choosing another sends {"symbol": ...}, as the tutorial's client does.
import { ReconnectingSocket, socketUrl, coalesce } from "./tickstream.js";
import { decimalsOf, direction, formatPercent, formatPrice, formatTime } from "./format.js";
import { instruments, showConnection } from "./ui.js";

const root = document.getElementById("stocks");
const picker = document.getElementById("stock-picker");
const bySymbol = new Map(instruments().map((i) => [i.symbol, i]));
const el = (id) => document.getElementById(id);
let chosen = null; // null: the server's default until the user picks one

const socket = new ReconnectingSocket(socketUrl("/ws/stocks/"), {
  onstate: showConnection,
  onopen: () => chosen && socket.send({ symbol: chosen }),
  onmessage: (raw) => {
    const data = JSON.parse(raw);
    if (data.error || !data.symbol) return;
    coalesce("stock", () => render(data));
  },
});

function render(data) {
  const decimals = decimalsOf(bySymbol.get(data.symbol)?.tick_size);
  const dir = direction(data.change);
  el("stock-symbol").textContent = data.symbol;
  el("stock-price").textContent = formatPrice(data.price, decimals);
  const change = el("stock-change");
  change.textContent = formatPercent(data.change); // a true minus sign, never a hyphen
  change.className = dir;
  const arrow = el("stock-arrow");
  arrow.textContent = dir === "up" ? "▲" : dir === "down" ? "▼" : "■";
  arrow.className = dir;
  const now = new Date();
  el("stock-time").dateTime = now.toISOString();
  el("stock-time").textContent = formatTime(now);
  if (picker.value !== data.symbol && !chosen) picker.value = data.symbol;
  root.dataset.symbol = data.symbol;
}

picker.addEventListener("change", () => {
  chosen = picker.value;
  socket.send({ symbol: chosen });
});
