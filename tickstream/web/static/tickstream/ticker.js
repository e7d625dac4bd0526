// /ticker/: tutorial 001's page on `ws/ticker/`: a scrolling tape of every symbol and a grid
// of cards, both updated in place (at most once per animation frame).
import { ReconnectingSocket, socketUrl, coalesce } from "./tickstream.js";
import { decimalsOf, direction, formatChange, formatPercent, formatPrice } from "./format.js";
import { flash, instruments, showConnection } from "./ui.js";

const list = instruments();
const bySymbol = new Map(list.map((i) => [i.symbol, i]));
const track = document.getElementById("tape-track");
const grid = document.getElementById("quote-grid");
const latest = new Map(); // symbol -> last message
const cells = new Map(); // symbol -> [elements showing it]
let updates = 0;

function item(symbol, className, tag) {
  const node = document.createElement(tag);
  node.className = className;
  node.dataset.symbol = symbol;
  node.innerHTML =
    '<span class="sym"></span> <span class="num price">–</span> <span class="num change">–</span>';
  node.querySelector(".sym").textContent = symbol;
  return node;
}

// The tape holds every symbol twice, so that scrolling by half its width loops seamlessly.
for (const copy of [0, 1]) {
  for (const { symbol } of list) {
    const node = item(symbol, "tape-item", "span");
    if (copy) node.setAttribute("aria-hidden", "true");
    track.append(node);
    cells.set(symbol, [...(cells.get(symbol) || []), node]);
  }
}
for (const { symbol, name } of list) {
  const card = item(symbol, "panel quote-card", "div");
  card.querySelector(".sym").insertAdjacentHTML("afterend", '<div class="muted name"></div>');
  card.querySelector(".name").textContent = name;
  cells.get(symbol).push(card);
  grid.append(card);
}

function render(symbol) {
  const data = latest.get(symbol);
  const decimals = decimalsOf(bySymbol.get(symbol)?.tick_size);
  const dir = direction(data.change);
  const price = formatPrice(data.price, decimals);
  const change = `${formatChange(data.change, decimals)} (${formatPercent(data.change_pct)})`;
  for (const node of cells.get(symbol) || []) {
    const priceNode = node.querySelector(".price");
    if (priceNode.textContent !== price) {
      const before = Number(node.dataset.last);
      node.dataset.last = data.price;
      priceNode.textContent = price;
      if (Number.isFinite(before)) flash(priceNode, Number(data.price) >= before);
    }
    const changeNode = node.querySelector(".change");
    changeNode.textContent = change;
    changeNode.className = `num change ${dir}`;
  }
}

new ReconnectingSocket(socketUrl("/ws/ticker/"), {
  onstate: showConnection,
  onmessage: (raw) => {
    const data = JSON.parse(raw);
    if (!data.symbol || !cells.has(data.symbol)) return;
    latest.set(data.symbol, data);
    updates += 1;
    track.dataset.updates = String(updates);
    coalesce(`ticker:${data.symbol}`, () => render(data.symbol));
  },
});
