// /trading/: the paper venue. A live 1-minute candle chart of the chosen instrument (REST
// history, then `candles:<SYM>:1m`), with the user's resting orders drawn as price lines
// that turn to "filled" as they fill; the order ticket with its estimated value, fee and
// total before sending; open orders with cancel; fills; balances. Orders are placed and
// cancelled over the websocket (`order.place`, `order.cancel`), and everything that
// changes arrives on the `orders` channel: nothing here reloads.
import {
  createChart,
  CandlestickSeries,
  ColorType,
  LineStyle,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { TickstreamClient, coalesce } from "./tickstream.js";
import { api, describeError } from "./api.js";
import { add, cents, mul, parse } from "./decimal.js";
import { chartTickMark, decimalsOf, formatPrice, formatTime } from "./format.js";
import { cssVar, instruments, showConnection } from "./ui.js";

const root = document.getElementById("venue");
const signedIn = root.dataset.signedIn === "true";
const bps = (name) => parse(root.dataset[name]);
const $ = (selector, node = document) => node.querySelector(selector);
const bySymbol = new Map(instruments().map((i) => [i.symbol, i]));
const picker = $("#venue-symbol");
const cryptoPicker = $("#crypto-picker");
const client = new TickstreamClient();
client.onstate = showConnection;

let symbol = picker.value;
let last = null; // the chosen instrument's last price (decimal string)
const orders = new Map(); // open orders by id
let fills = [];

const decimals = (s = symbol) => decimalsOf(bySymbol.get(s)?.tick_size);
const price = (value, s) => formatPrice(value, decimals(s));

// --- the chart ---

const container = $("#venue-chart");
let chart = null;
let candles = null;
let stopCandles = () => {};
const lines = new Map(); // order id -> {line, filledAt}

function makeChart() {
  const grid = cssVar("--border");
  chart = createChart(container, {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: cssVar("--panel") },
      textColor: cssVar("--muted"),
      fontFamily: getComputedStyle(document.body).fontFamily,
    },
    grid: { vertLines: { color: grid }, horzLines: { color: grid } },
    rightPriceScale: { borderColor: grid },
    // One clock per page; room after the newest candle for the last time label.
    timeScale: { borderColor: grid, timeVisible: true, tickMarkFormatter: chartTickMark, rightOffset: 6 },
    localization: { timeFormatter: (t) => formatTime(t * 1000) },
  });
  candles = chart.addSeries(CandlestickSeries, {
    upColor: cssVar("--up"),
    downColor: cssVar("--down"),
    borderVisible: false,
    wickUpColor: cssVar("--up"),
    wickDownColor: cssVar("--down"),
    // The price scale takes in the user's order lines, so a resting order far from the
    // market is still on the chart.
    autoscaleInfoProvider: (original) => {
      const base = original();
      const prices = [...lines.values()].map((entry) => entry.price);
      if (!base || !prices.length) return base;
      const { minValue, maxValue } = base.priceRange;
      return { ...base, priceRange: { minValue: Math.min(minValue, ...prices), maxValue: Math.max(maxValue, ...prices) } };
    },
  });
}

/** How many order lines are inside the drawn chart (read by tests). */
function markVisible() {
  const height = container.clientHeight;
  let visible = 0;
  for (const entry of lines.values()) {
    const y = candles.priceToCoordinate(entry.price);
    if (y !== null && y >= 0 && y <= height) visible += 1;
  }
  container.dataset.linesVisible = String(visible);
}

const toBar = (c) => ({
  time: Math.floor(c.t / 1000),
  open: Number(c.open),
  high: Number(c.high),
  low: Number(c.low),
  close: Number(c.close),
});

async function follow(chosen) {
  stopCandles();
  symbol = chosen;
  last = null;
  delete root.dataset.last;
  root.dataset.symbol = chosen; // read by tests, with data-last once it has a price
  $("#venue-last").textContent = "–";
  const tick = bySymbol.get(chosen)?.tick_size || "0.01";
  candles.applyOptions({ priceFormat: { type: "price", precision: decimals(), minMove: Number(tick) } });
  candles.setData([]);
  const channel = `candles:${chosen}:1m`;
  let ready = false;
  const early = [];
  const handler = ({ data }) => {
    const bars = [...(data.closed || []), ...(data.candle ? [data.candle] : [])].map(toBar);
    if (data.candle) showLast(data.candle.close);
    if (!ready) early.push(...bars);
    else for (const bar of bars) candles.update(bar);
  };
  client.subscribe([channel], handler);
  stopCandles = () => client.unsubscribe([channel], handler);
  try {
    const page = await api(`/api/candles/?symbol=${encodeURIComponent(chosen)}&interval=1m&limit=300`);
    if (chosen !== symbol) return;
    candles.setData(page.candles.map(toBar));
    for (const bar of early) if (bar.time >= (page.candles.at(-1)?.t ?? 0) / 1000) candles.update(bar);
    if (!last && page.candles.length) showLast(page.candles.at(-1).close);
  } catch (error) {
    console.warn("tickstream: candle history unavailable", error);
  } finally {
    ready = true;
  }
  drawLines();
  estimate();
}

function showLast(value) {
  last = value;
  const text = price(value);
  $("#venue-last").textContent = text;
  root.dataset.last = value; // read by tests
  coalesce("estimate", estimate);
}

/** One price line per resting order of the chosen instrument (its limit, or its stop until
 * it triggers); a filled order's line says so for a few seconds, then goes. */
function drawLines() {
  if (!candles) return;
  for (const [id, entry] of lines) {
    const order = orders.get(id);
    if (!entry.filledAt && (!order || order.symbol !== symbol)) {
      candles.removePriceLine(entry.line);
      lines.delete(id);
    }
  }
  for (const order of orders.values()) {
    if (order.symbol !== symbol || lines.has(order.id)) continue;
    const at = order.type === "limit" || (order.type === "stop_limit" && order.triggered) ? order.price : order.stop_price;
    if (!at) continue; // a market order rests nowhere
    const buy = order.side === "buy";
    const kind = { limit: "LMT", stop: "STP", stop_limit: "STP LMT" }[order.type];
    const line = candles.createPriceLine({
      price: Number(at),
      color: cssVar(buy ? "--up" : "--down"),
      lineWidth: 1,
      lineStyle: LineStyle.Dashed,
      axisLabelVisible: true,
      title: `${buy ? "BUY" : "SELL"} ${order.quantity} ${kind}`,
    });
    lines.set(order.id, { line, price: Number(at), filledAt: null });
  }
  requestAnimationFrame(() => requestAnimationFrame(markVisible)); // after the rescale
  container.dataset.lines = String([...lines.values()].filter((e) => !e.filledAt).length);
  container.dataset.filledLines = String([...lines.values()].filter((e) => e.filledAt).length);
}

function markFilled(order) {
  const entry = lines.get(order.id);
  if (!entry || entry.filledAt) return;
  entry.filledAt = Date.now();
  entry.price = Number(order.average_price);
  // The line moves to where it filled (a crossing order fills at the market, not its limit).
  entry.line.applyOptions({
    price: Number(order.average_price),
    title: `FILLED ${order.side.toUpperCase()} ${order.filled}`,
    lineStyle: LineStyle.Solid,
    lineWidth: 2,
  });
  setTimeout(() => {
    candles.removePriceLine(entry.line);
    lines.delete(order.id);
    drawLines();
  }, 8000);
}

// --- the user's orders, fills and balances, live ---

function onOrders({ kind, data }) {
  if (kind === "snapshot") {
    orders.clear();
    for (const order of data.orders) orders.set(order.id, order);
    fills = data.fills;
    renderBalances(data.balances);
  } else {
    const order = data.order;
    if (order) {
      if (order.status === "new" || order.status === "partially_filled") orders.set(order.id, order);
      else {
        orders.delete(order.id);
        if (order.status === "filled") markFilled(order);
      }
    }
    if (data.fill) fills = [data.fill, ...fills].slice(0, 50);
    if (data.balances) renderBalances(data.balances);
  }
  coalesce("venue-orders", () => {
    renderOrders();
    renderFills();
    drawLines();
  });
}

function cell(text, className = "num") {
  const td = document.createElement("td");
  td.className = className;
  td.textContent = text;
  return td;
}

let available = new Map(); // currency -> available (decimal string)

function renderBalances(balances) {
  available = new Map(balances.map((b) => [b.currency, b.available]));
  coalesce("estimate", estimate);
  const body = $("#balances tbody");
  body.replaceChildren(
    ...balances.map((b) => {
      const tr = document.createElement("tr");
      tr.dataset.currency = b.currency;
      tr.append(cell(b.currency, ""), cell(b.currency === "USD" ? formatPrice(b.available, 2) : b.available), cell(b.currency === "USD" ? formatPrice(b.reserved, 2) : b.reserved));
      tr.dataset.available = b.available;
      tr.dataset.reserved = b.reserved;
      return tr;
    }),
  );
}

function renderOrders() {
  const body = $("#open-orders tbody");
  const rows = [...orders.values()].sort((a, b) => b.id - a.id);
  body.replaceChildren(
    ...rows.map((o) => {
      const tr = document.createElement("tr");
      tr.dataset.id = o.id;
      tr.dataset.status = o.status;
      const side = cell(o.side, o.side === "buy" ? "up" : "down");
      const cancel = document.createElement("button");
      cancel.type = "button";
      cancel.textContent = "Cancel";
      cancel.dataset.cancel = o.id;
      cancel.setAttribute("aria-label", `Cancel order ${o.id}`);
      const actions = document.createElement("td");
      actions.append(cancel);
      tr.append(
        cell(formatTime(o.created_at), "num"),
        cell(o.symbol, ""),
        side,
        cell(o.type.replace("_", " "), ""),
        cell(o.quantity),
        cell(o.filled),
        cell(o.price ? price(o.price, o.symbol) : "market"),
        cell(o.stop_price ? price(o.stop_price, o.symbol) : "–"),
        cell(o.time_in_force, ""),
        cell(o.status.replace("_", " "), ""),
        actions,
      );
      return tr;
    }),
  );
  $("#open-orders-empty").hidden = rows.length > 0;
}

function renderFills() {
  const body = $("#fills tbody");
  body.replaceChildren(
    ...fills.map((f) => {
      const tr = document.createElement("tr");
      tr.dataset.order = f.order;
      tr.append(
        cell(formatTime(f.time, { withDate: true })),
        cell(f.symbol, ""),
        cell(f.side, f.side === "buy" ? "up" : "down"),
        cell(f.quantity),
        cell(price(f.price, f.symbol)),
        cell(`${formatPrice(f.fee, 2)} ${f.fee_currency}`),
        cell(f.liquidity, ""),
        cell(`#${f.order}`),
      );
      return tr;
    }),
  );
  $("#fills-empty").hidden = fills.length > 0;
}

// --- the ticket ---

const ticket = $("#ticket");
const field = (name) => ticket.elements.namedItem(name);

function showMessage(text, ok) {
  const node = $("#ticket-message");
  node.textContent = text;
  node.className = `message ${ok ? "" : "down"}`;
  node.hidden = !text;
}

function adaptTicket() {
  const type = field("type").value;
  ticket.querySelector('[data-for="price"]').hidden = !["limit", "stop_limit"].includes(type);
  ticket.querySelector('[data-for="stop_price"]').hidden = !["stop", "stop_limit"].includes(type);
  const tif = field("time_in_force");
  tif.querySelector('[value="DAY"]').disabled = type === "market";
  if (type === "market" && tif.value === "DAY") tif.value = "GTC";
  $("#ticket-submit").textContent = `Place ${field("side").value} order`;
  estimate();
}

const numeric = (text) => /^\d+(\.\d+)?$/.test(String(text).trim());

/** Value, fee and total of the order as it would fill: at its limit, or for market and
 * stop orders at the last price (stop price) moved by the slippage; the fee at the maker
 * rate for limits and the taker rate otherwise. */
function estimate() {
  if (!ticket) return;
  const type = field("type").value;
  const buy = field("side").value === "buy";
  showAvailable(buy);
  warnFarFromMarket(type, buy);
  const quantity = field("quantity").value.trim();
  let at = null;
  if (type === "limit" || type === "stop_limit") at = field("price").value.trim();
  else at = type === "stop" ? field("stop_price").value.trim() : last;
  const cells = Object.fromEntries([...document.querySelectorAll("[data-estimate]")].map((n) => [n.dataset.estimate, n]));
  if (!numeric(quantity) || !at || !numeric(at)) {
    for (const node of Object.values(cells)) node.textContent = "–";
    return;
  }
  let unit = parse(at);
  if (type === "market" || type === "stop") {
    const slip = bps("slippageBps"); // 1 +/- slip / 10,000, exactly
    unit = mul(unit, { n: 10n ** BigInt(4 + slip.s) + (buy ? slip.n : -slip.n), s: 4 + slip.s });
  }
  const value = mul(parse(quantity), unit);
  const rate = bps(type === "limit" ? "makerBps" : "takerBps");
  const fee = mul(value, { n: rate.n, s: rate.s + 4 });
  const total = buy ? add(value, fee) : add(value, { n: -fee.n, s: fee.s });
  cells.value.textContent = formatPrice(cents(value), 2);
  cells.fee.textContent = formatPrice(cents(fee), 2);
  cells.total.textContent = formatPrice(cents(total), 2);
  $("#estimate-total-label").textContent = buy ? "Est. cost" : "Est. proceeds";
}

/** What the order can draw on: cash for a buy, the asset for a sell. */
function spendable(buy) {
  const currency = buy ? "USD" : symbol.split("-")[0];
  return { currency, amount: available.get(currency) ?? "0" };
}

function showAvailable(buy) {
  const { currency, amount } = spendable(buy);
  const shown = currency === "USD" ? formatPrice(amount, 2) : amount;
  $("#ticket-available").textContent = `Available: ${shown} ${currency}`;
  if (buy && parse(amount).n === 0n) {
    $("#ticket-available").textContent += " — deposit paper cash below to buy.";
  }
}

/** A limit far from the market is said (it is allowed: it rests until the price gets
 * there), so that a buy at 1.00 for bitcoin is not a slip of the finger unnoticed. */
function warnFarFromMarket(type, buy) {
  const note = $("#ticket-warning");
  const price = field("price").value.trim();
  note.hidden = true;
  if (!last || !["limit", "stop_limit"].includes(type) || !numeric(price)) return;
  const ratio = Number(price) / Number(last); // a ratio for a warning, not money
  const away = buy ? 1 - ratio : ratio - 1;
  if (away < 0.1) return;
  const pct = Math.round(Math.abs(1 - ratio) * 100);
  const shown = formatPrice(last, decimalsOf(bySymbol.get(symbol)?.tick_size));
  note.hidden = false;
  note.textContent = `This limit is ${pct} % ${buy ? "below" : "above"} the last price (${shown}): it waits until the market ${buy ? "falls" : "rises"} there.`;
}

/** floor(a / b) for positive exact decimals, as a BigInt. */
function floorDiv(a, b) {
  return (a.n * 10n ** BigInt(b.s)) / (b.n * 10n ** BigInt(a.s));
}

/** The quantity for `share` % of what is available: a sell of that share of the asset,
 * a buy whose reservation (price, or last plus the collar for a market buy, and the
 * highest fee) fits that share of the cash; down to the instrument's quantity step. */
function quantityFor(share) {
  const buy = field("side").value === "buy";
  const budget = mul(parse(spendable(buy).amount), { n: BigInt(share), s: 2 });
  return stepsFor(budget, buy); // cash for a buy, the asset itself for a sell
}

/** The quantity that an amount of USD buys (the reservation's price and highest fee
 * included, so it never reserves more) or that sells for about that much. */
function quantityForAmount(text) {
  return numeric(text) ? stepsFor(parse(text), true) : null;
}

/** Whole quantity steps that `budget` allows: of cash (at the order's price; a buy also
 * pays the collar of a market order and the highest fee) or of the asset itself. */
function stepsFor(budget, cash) {
  const buy = field("side").value === "buy";
  const type = field("type").value;
  const step = parse(bySymbol.get(symbol)?.quantity_step || "1");
  let steps;
  if (cash) {
    const at = ["limit", "stop_limit"].includes(type) ? field("price").value.trim() : type === "stop" ? field("stop_price").value.trim() : last;
    if (!at || !numeric(at)) return null;
    let unit = parse(at);
    if (buy && type === "market") {
      const collar = bps("collarBps");
      unit = mul(unit, { n: 10n ** BigInt(4 + collar.s) + collar.n, s: 4 + collar.s });
    }
    if (buy) {
      const maker = bps("makerBps");
      const taker = bps("takerBps");
      const fee = Number(maker.n) / 10 ** maker.s > Number(taker.n) / 10 ** taker.s ? maker : taker;
      unit = mul(unit, { n: 10n ** BigInt(4 + fee.s) + fee.n, s: 4 + fee.s });
    }
    steps = floorDiv(budget, mul(unit, step)); // whole steps that fit
  } else {
    steps = floorDiv(budget, step);
  }
  if (steps <= 0n) return "0";
  const q = mul({ n: steps, s: 0 }, step);
  const text = q.n.toString().padStart(q.s + 1, "0");
  const whole = q.s ? `${text.slice(0, -q.s)}.${text.slice(-q.s)}` : text;
  return q.s ? whole.replace(/\.?0+$/, "") : whole;
}

/** Record the account's fills in a portfolio of the user's, or a new one made for it, in
 * one step (PATCH /api/trading/account/). */
async function linkPortfolio(event) {
  event.preventDefault();
  const select = event.target.elements.namedItem("portfolio");
  try {
    let id = select.value === "" ? null : Number(select.value);
    let name = select.selectedOptions[0].textContent;
    if (select.value === "new") {
      const made = await newPortfolio("Paper trading");
      id = made.id;
      name = made.name;
      const option = new Option(name, String(id), true, true);
      select.insertBefore(option, select.lastElementChild);
    }
    await api("/api/trading/account/", { method: "PATCH", body: { portfolio: id } });
    const note = $("#link-note");
    if (id === null) {
      note.textContent = "Fills are no longer recorded in a portfolio.";
    } else {
      const link = document.createElement("a");
      link.href = `/portfolio/${id}/`;
      link.textContent = name;
      note.replaceChildren("Every fill and transfer from now on is recorded in ", link, ", which moves with the market.");
    }
    showMessage(id === null ? "Unlinked." : `Linked to ${name}.`, true);
  } catch (error) {
    showMessage(describeError(error), false);
  }
}

/** Start the paper account over (POST /api/trading/account/reset/), after asking. */
async function resetAccount(event) {
  event.preventDefault();
  const amount = event.target.elements.namedItem("amount").value.trim();
  const ask = `Start over with ${amount} USD? Open orders are cancelled, assets set to zero, and a linked portfolio is unlinked (it keeps its history).`;
  if (!confirm(ask)) return;
  try {
    await api("/api/trading/account/reset/", { method: "POST", body: { amount } });
    $("#link-portfolio select").value = "";
    $("#link-note").textContent = "Link a portfolio to follow this account's holdings, value and returns there.";
    showMessage(`The account starts over with ${amount} USD.`, true);
  } catch (error) {
    showMessage(describeError(error), false);
  }
}

/** A portfolio named `base`, or `base 2`, `base 3`... if that name is taken. */
async function newPortfolio(base) {
  for (let n = 1; n < 20; n += 1) {
    const name = n === 1 ? base : `${base} ${n}`;
    try {
      return await api("/api/portfolios/", { method: "POST", body: { name } });
    } catch (error) {
      if (error.code !== "duplicate_name") throw error;
    }
  }
  throw Object.assign(new Error("choose a portfolio by name"), { code: "duplicate_name" });
}

async function place(event) {
  event.preventDefault();
  const order = { symbol, side: field("side").value, type: field("type").value, quantity: field("quantity").value.trim(), time_in_force: field("time_in_force").value };
  for (const name of ["price", "stop_price"]) {
    const input = field(name);
    if (!input.closest("label").hidden) order[name] = input.value.trim();
  }
  order.client_order_id = `web-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
  const button = $("#ticket-submit");
  button.disabled = true;
  try {
    const { order: placed } = await client.request("order.place", { order });
    orders.set(placed.id, placed);
    onOrders({ kind: "update", data: {} });
    const held = placed.side === "buy" ? `${formatPrice(placed.reserved, 2)} USD` : `${placed.reserved} ${placed.symbol.split("-")[0]}`;
    showMessage(`Order #${placed.id} placed: ${placed.side} ${placed.quantity} ${placed.symbol}, ${held} reserved.`, true);
  } catch (error) {
    showMessage(`${error.message} (${error.code})`, false);
  } finally {
    button.disabled = false;
  }
}

async function cancel(id) {
  try {
    const { order } = await client.request("order.cancel", { order_id: id });
    orders.delete(order.id);
    onOrders({ kind: "update", data: {} });
    showMessage(`Order #${order.id} cancelled.`, true);
  } catch (error) {
    showMessage(`${error.message} (${error.code})`, false);
  }
}

// --- wiring ---

makeChart();
follow(symbol);
picker.addEventListener("change", () => follow(picker.value));
cryptoPicker?.addEventListener("change", () => {
  picker.value = cryptoPicker.value;
  follow(picker.value);
});

if (signedIn) {
  client.subscribe(["orders"], onOrders);
  ticket.addEventListener("submit", place);
  ticket.addEventListener("input", () => coalesce("estimate", estimate));
  $("#link-portfolio")?.addEventListener("submit", linkPortfolio);
  $("#reset-account")?.addEventListener("submit", resetAccount);
  field("amount_usd").addEventListener("input", () => {
    const quantity = quantityForAmount(field("amount_usd").value.trim());
    if (quantity !== null) {
      field("quantity").value = quantity;
      estimate();
    }
  });
  for (const button of ticket.querySelectorAll("[data-share]")) {
    button.addEventListener("click", () => {
      const quantity = quantityFor(Number(button.dataset.share));
      if (quantity === null) {
        showMessage("Enter the limit price first: the share is of what that price allows.", false);
        return;
      }
      field("quantity").value = quantity;
      estimate();
    });
  }
  for (const name of ["type", "side"]) field(name).addEventListener("change", adaptTicket);
  $("#open-orders").addEventListener("click", (event) => {
    const id = event.target.closest("[data-cancel]")?.dataset.cancel;
    if (id) cancel(Number(id));
  });
  $("#deposit").addEventListener("submit", async (event) => {
    event.preventDefault();
    const input = event.target.elements.namedItem("amount");
    try {
      const amount = input.value.trim();
      await api("/api/trading/deposits/", { method: "POST", body: { amount } });
      input.value = "";
      showMessage(`Deposited ${amount} USD.`, true); // and the last error is gone
    } catch (error) {
      showMessage(describeError(error), false);
    }
  });
  adaptTicket();
}
