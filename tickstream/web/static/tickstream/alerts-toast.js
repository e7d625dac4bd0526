// Every page of a signed-in user: a notice (and a browser notification, if allowed) when
// one of the user's price alerts fires, from the `alerts` channel.
import { TickstreamClient } from "./tickstream.js";
import { formatTime } from "./format.js";

const box = document.getElementById("toasts");
const LABELS = { above: "reached", below: "fell to", move_up: "rose to", move_down: "fell to" };

function toast(event) {
  const node = document.createElement("div");
  node.className = "toast";
  node.setAttribute("role", "alert");
  const title = document.createElement("b");
  title.textContent = `${event.symbol} ${LABELS[event.condition] || "at"} ${event.price}`;
  const detail = document.createElement("span");
  const relative = event.condition.startsWith("move");
  detail.textContent = `Alert ${relative ? `${event.value}% (${event.level})` : event.level} · ${formatTime(event.time)}${event.note ? ` · ${event.note}` : ""}`;
  const close = document.createElement("button");
  close.type = "button";
  close.className = "toast-close";
  close.textContent = "×";
  close.setAttribute("aria-label", "Dismiss this alert");
  close.addEventListener("click", () => node.remove());
  node.append(title, detail, close);
  box.append(node);
  setTimeout(() => node.remove(), 12000);
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification(title.textContent, { body: detail.textContent, tag: `alert-${event.alert}` });
  }
}

if (box) {
  const client = new TickstreamClient();
  client.subscribe(["alerts"], ({ kind, data }) => {
    if (kind === "update" && data && data.event === "alert_triggered") toast(data);
  });
}
