// /portfolio/<id>/: the holdings and totals live from `portfolio:<id>` (a snapshot, then an
// update whenever a held instrument's price or the transactions change), the transactions
// with add / edit / delete, returns, the value over time, CSV import with its preview.
import { createChart, AreaSeries, HistogramSeries, LineSeries } from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { TickstreamClient, coalesce } from "./tickstream.js";
import { api, apiPage, describeError } from "./api.js";
import { applyMarks } from "./decimal.js";
import { direction, formatChange, formatPercent, formatPrice, formatTime } from "./format.js";
import { cssVar, flash, showConnection } from "./ui.js";

const root = document.getElementById("portfolio");
const id = root.dataset.id;
const own = root.dataset.currency; // the portfolio's currency
const base = `/api/portfolios/${id}`;
const $ = (selector, node = document) => node.querySelector(selector);
const money = (value) => formatPrice(value, 2);

// --- live valuation ---

let latest = null;
const channel = `portfolio:${id}`;
const client = new TickstreamClient();
client.onstate = showConnection;
let stop = client.subscribe([channel], follow);

// A snapshot or a whole update replaces the valuation; marks move its prices. Marks of
// another basis (a change this page missed) mean asking for the channel again. A whole
// valuation of another revision (a transaction added anywhere: this page, the API, a
// paper fill) means the transactions, returns and chart changed too: they are read again.
let revision = null;
let loaded = false;
function follow({ data }) {
  const next = applyMarks(latest, data);
  if (next === null) {
    stop();
    latest = null;
    stop = client.subscribe([channel], follow);
    return;
  }
  latest = next;
  if (next.revision !== undefined && next.revision !== revision) {
    const first = revision === null;
    revision = next.revision;
    if (first && loaded) root.dataset.shown = revision;
    if (!first) coalesce("portfolio-change", () => afterChange().catch((error) => say(describeError(error), true)));
  }
  coalesce("portfolio", () => render(latest));
}

function signed(value) {
  if (value === null || value === undefined) return "–";
  return formatChange(value, 2);
}

function setCell(cell, text, dir) {
  if (cell.textContent === text) return false;
  const before = cell.textContent;
  cell.textContent = text;
  if (dir !== undefined) cell.className = `num ${dir}`;
  return before !== "" && before !== "–";
}

function render(data) {
  root.dataset.value = data.totals.value; // read by tests and scripts
  for (const cell of document.querySelectorAll("[data-total]")) {
    const key = cell.dataset.total;
    const value = data.totals[key];
    const pnl = ["day_change", "unrealized_pnl", "realized_pnl"].includes(key);
    let text = pnl ? signed(value) : money(value);
    if (key === "unrealized_pnl" && data.totals.unrealized_pnl_pct !== null) text += ` (${formatPercent(data.totals.unrealized_pnl_pct)})`;
    if (setCell(cell, text, pnl ? direction(value) : undefined) && key === "value") flash(cell, Number(value) >= 0);
  }
  renderCash(data.cash_balances);
  renderHoldings(data.holdings);
  renderAllocation(data.holdings);
}

// Cash in other currencies: each one's own amount and its value now.
function renderCash(balances) {
  const row = $("#cash-balances-row");
  const foreign = (balances || []).filter((b) => b.currency !== own && Number(b.amount) !== 0);
  row.hidden = foreign.length === 0;
  if (row.hidden) return;
  const lines = (balances || []).filter((b) => Number(b.amount) !== 0 || b.currency === own)
    .map((b) => `${b.currency} ${money(b.amount)}`);
  const box = $("#cash-balances");
  if (box.textContent === lines.join("")) return;
  box.replaceChildren(...lines.map((line) => Object.assign(document.createElement("span"), { textContent: line })));
}

function renderHoldings(holdings) {
  const body = $("#holdings tbody");
  $("#holdings-empty").hidden = holdings.length > 0;
  const rows = new Map([...body.rows].map((row) => [row.dataset.symbol, row]));
  const wanted = new Set(holdings.map((h) => h.symbol));
  for (const [symbol, row] of rows) if (!wanted.has(symbol)) row.remove();
  holdings.forEach((h, index) => {
    let row = rows.get(h.symbol);
    if (!row) {
      row = body.insertRow();
      row.dataset.symbol = h.symbol;
      row.innerHTML = '<td class="sym"></td>' + '<td class="num"></td>'.repeat(7);
      row.cells[0].textContent = h.symbol;
    }
    if (body.rows[index] !== row) body.insertBefore(row, body.rows[index] || null);
    const c = row.cells;
    setCell(c[1], h.quantity);
    setCell(c[2], h.average_cost === null ? "–" : formatPrice(h.average_cost, 2));
    const oldPrice = Number(c[3].dataset.value);
    const unit = h.currency ? ` ${h.currency}` : "";
    if (setCell(c[3], h.price === null ? "–" : formatPrice(h.price, decimalsOf(h.price)) + unit)) {
      flash(c[3], Number(h.price) >= oldPrice);
    }
    c[3].dataset.value = h.price ?? "";
    c[3].title = h.rate ? `1 ${h.currency} = ${formatPrice(h.rate, 6)} ${own}` : "";
    setCell(c[4], money(h.market_value));
    setCell(c[5], signed(h.day_change), direction(h.day_change));
    const pct = h.unrealized_pnl_pct === null ? "" : ` (${formatPercent(h.unrealized_pnl_pct)})`;
    setCell(c[6], signed(h.unrealized_pnl) + pct, direction(h.unrealized_pnl));
    // In another currency: what the price did and what the exchange rate did.
    c[6].title = h.currency_effect === undefined || h.currency_effect === null ? ""
      : `price ${signed(h.price_effect)} · currency ${signed(h.currency_effect)}`;
    let split = c[6].querySelector(".effects");
    if (h.currency_effect !== undefined && h.currency_effect !== null) {
      if (!split) {
        split = document.createElement("small");
        split.className = "effects muted";
      }
      split.textContent = `price ${signed(h.price_effect)} · FX ${signed(h.currency_effect)}`;
      c[6].append(split);
    }
    setCell(c[7], h.allocation_pct === null ? "–" : `${formatPrice(h.allocation_pct, 1)}%`);
  });
}

function decimalsOf(price) {
  const text = String(price ?? "");
  const dot = text.indexOf(".");
  return Math.max(2, dot < 0 ? 0 : text.length - dot - 1);
}

function renderAllocation(holdings) {
  const box = $("#allocation");
  const parts = holdings.filter((h) => h.allocation_pct !== null).sort((a, b) => Number(b.allocation_pct) - Number(a.allocation_pct));
  box.replaceChildren(...parts.map((h) => {
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.innerHTML = '<span class="sym"></span><span class="track"><span class="fill"></span></span><span class="num"></span>';
    bar.children[0].textContent = h.symbol;
    bar.querySelector(".fill").style.width = `${Math.max(0, Math.min(100, Number(h.allocation_pct)))}%`;
    bar.children[2].textContent = `${formatPrice(h.allocation_pct, 1)}%`;
    bar.setAttribute("aria-label", `${h.symbol} ${h.allocation_pct}%`);
    return bar;
  }));
}

// --- transactions ---

const form = $("#tx-form");
let editing = null;

function localInput(date) {
  const pad = (n) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}T${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}`;
}

function resetForm() {
  editing = null;
  form.reset();
  form.time.value = localInput(new Date());
  $("#tx-submit").textContent = "Add";
  $("#tx-cancel").hidden = true;
  $("#tx-error").hidden = true;
}

const PAGE = 50;
let older = null; // the next page of older transactions

function transactionRow(t) {
  const row = document.createElement("tr");
  row.dataset.id = t.id;
  const unit = t.currency && t.currency !== own ? ` ${t.currency}` : "";
  const rate = unit ? `1 ${t.currency} = ${formatPrice(t.rate, 6)} ${own}` : "–";
  const trade = t.kind === "buy" || t.kind === "sell";
  const amount = trade || t.kind === "split" ? t.quantity : t.quantity + unit;
  const cells = [formatTime(t.time, { withDate: true }), t.kind, t.symbol || "–", amount, trade ? t.price + unit : "–", t.fee, rate, t.note];
  for (const text of cells) {
    const cell = row.insertCell();
    cell.textContent = text;
  }
  const actions = row.insertCell();
  actions.innerHTML = '<button type="button" class="small" data-action="edit">Edit</button> <button type="button" class="small" data-action="delete">Delete</button>';
  actions.querySelector('[data-action="edit"]').onclick = () => startEdit(t);
  actions.querySelector('[data-action="delete"]').onclick = () => remove(t);
  return row;
}

// The newest transactions first, a page at a time ("Show older" for the next).
function drawTransactions({ rows, next }) {
  $("#transactions tbody").replaceChildren(...rows.map(transactionRow));
  showOlder(next);
}

function showOlder(next) {
  older = next;
  $("#tx-older").hidden = next === null;
}

$("#tx-older").onclick = async () => {
  try {
    const { rows, next } = await apiPage(older);
    $("#transactions tbody").append(...rows.map(transactionRow));
    showOlder(next);
  } catch (error) {
    say(describeError(error), true);
  }
};

function startEdit(t) {
  editing = t.id;
  for (const name of ["kind", "symbol", "quantity", "price", "fee", "note"]) form[name].value = t[name] ?? "";
  const foreign = t.currency && t.currency !== own;
  form.currency.value = foreign ? t.currency : "";
  form.rate.value = foreign ? t.rate : "";
  form.time.value = localInput(new Date(t.time));
  $("#tx-submit").textContent = "Save";
  $("#tx-cancel").hidden = false;
  form.scrollIntoView({ block: "nearest" });
  form.kind.focus();
}

async function remove(t) {
  const what = `the ${t.kind}${t.symbol ? ` of ${t.quantity} ${t.symbol}` : ""} of ${t.time.slice(0, 10)}`;
  if (!confirm(`Delete ${what}? Holdings, returns and the value chart are recomputed without it.`)) return;
  try {
    await api(`${base}/transactions/${t.id}/`, { method: "DELETE" });
    await afterChange(`Deleted the ${t.kind} of ${t.time.slice(0, 10)}.`);
  } catch (error) {
    say(describeError(error), true);
  }
}

/** The page's one message: a success replaces an error and an error a success (the
 * form's own error line too), so no stale word stays beside a new one. */
function say(text, bad = false) {
  const box = $("#portfolio-message");
  box.hidden = false;
  box.textContent = text;
  box.className = `message ${bad ? "down" : ""}`;
  const formError = $("#tx-error");
  formError.hidden = true;
  formError.textContent = "";
}

// The transactions, returns and chart, read together and drawn together, and only by the
// newest load: two loads in flight (a change on this page and its echo on the channel)
// never leave one panel of an older state beside the others.
let generation = 0;
async function afterChange(text) {
  if (text) say(text);
  const mine = ++generation;
  const at = revision;
  const [page, returns, points, income, lots] = await Promise.all([
    apiPage(`${base}/transactions/?order=desc&limit=${PAGE}`),
    fetchReturns(),
    api(`${base}/history/`),
    api(`${base}/income/`),
    fetchLots(),
  ]);
  if (mine !== generation) return; // a newer load draws
  drawTransactions(page);
  drawReturns(returns);
  drawHistory(points);
  drawIncome(income);
  drawLots(lots);
  loaded = true;
  // The revision the panels show (read by tests); the first load's is the first snapshot's.
  if ((at ?? revision) !== null) root.dataset.shown = at ?? revision;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const body = Object.fromEntries(new FormData(form));
  body.time = new Date(body.time).toISOString();
  for (const key of ["price", "fee", "currency", "rate"]) if (body[key] === "") delete body[key];
  try {
    if (editing) await api(`${base}/transactions/${editing}/`, { method: "PUT", body });
    else await api(`${base}/transactions/`, { method: "POST", body });
    resetForm();
    await afterChange(`Saved the ${body.kind}.`);
  } catch (error) {
    $("#portfolio-message").hidden = true; // the error below the form is the news now
    const box = $("#tx-error");
    box.hidden = false;
    box.textContent = describeError(error);
  }
});
$("#tx-cancel").onclick = () => {
  // Back to the row that was being edited (its Edit button), else to the form's start.
  const id = editing;
  resetForm();
  const back = id && document.querySelector(`#transactions tr[data-id="${id}"] button`);
  (back || form.kind).focus();
};
// Enter in the date-time field submits, as in every other field (Chromium's picker eats it).
form.time.addEventListener("keydown", (event) => {
  if (event.key === "Enter") {
    event.preventDefault();
    form.requestSubmit();
  }
});
form.kind.addEventListener("change", () => {
  const cash = ["deposit", "withdrawal", "dividend", "interest", "fee"].includes(form.kind.value);
  $('[data-label="quantity"]').textContent = form.kind.value === "split" ? "Ratio (new per old)" : cash ? "Amount" : "Quantity";
});

$("#method-picker").addEventListener("change", async (event) => {
  try {
    await api(`${base}/`, { method: "PATCH", body: { method: event.target.value } });
    await afterChange(`Cost basis is now ${event.target.selectedOptions[0].textContent}.`);
  } catch (error) {
    say(describeError(error), true);
  }
});

// --- returns and history ---

// Every period's returns (null where the API could not give them).
function fetchReturns() {
  const rows = [...document.querySelectorAll("#returns tbody tr")];
  return Promise.all(rows.map((row) => api(`${base}/returns/?period=${row.dataset.period}`).catch(() => null)));
}

function drawReturns(returns) {
  const rows = document.querySelectorAll("#returns tbody tr");
  rows.forEach((row, index) => {
    const [, twr, bench, mwr, gain, fx] = row.cells;
    const r = returns[index];
    if (r === null) {
      twr.textContent = bench.textContent = mwr.textContent = gain.textContent = fx.textContent = "–";
      return;
    }
    twr.textContent = r.twr === null ? "–" : formatPercent(r.twr * 100);
    twr.className = `num ${direction(r.twr)}`;
    bench.textContent = r.benchmark_return === null ? "–" : formatPercent(r.benchmark_return * 100);
    bench.className = `num ${direction(r.benchmark_return)}`;
    bench.title = r.benchmark || "no benchmark chosen";
    mwr.textContent = r.xirr === null ? "–" : formatPercent(r.xirr * 100);
    gain.textContent = signed(r.gain);
    gain.className = `num ${direction(r.gain)}`;
    fx.textContent = signed(r.currency_effect);
    fx.className = `num ${direction(r.currency_effect)}`;
  });
}

$("#benchmark-picker").addEventListener("change", async (event) => {
  const symbol = event.target.value.trim().toUpperCase();
  try {
    await api(`${base}/`, { method: "PATCH", body: { benchmark: symbol } });
    event.target.value = symbol;
    await afterChange(symbol ? `Compared with ${symbol}.` : "No benchmark.");
  } catch (error) {
    say(describeError(error), true);
  }
});

function newChart(box, options = {}) {
  return createChart(box, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: cssVar("--muted") },
    grid: { vertLines: { visible: false }, horzLines: { color: cssVar("--border") } },
    rightPriceScale: { borderVisible: false },
    timeScale: { borderVisible: false },
    ...options,
  });
}

// The value chart, or (mode "compare") the time-weighted return against the benchmark's
// over the same days, both from 0 % on the first day shown.
let chart = null;
let area = null;
let ownLine = null;
let benchLine = null;
let mode = "value";
let lastPoints = [];
const percentFormat = { type: "custom", formatter: (v) => `${v.toFixed(2)}%` };
function drawHistory(points) {
  lastPoints = points;
  const box = $("#value-chart");
  if (!chart) {
    chart = newChart(box);
    area = chart.addSeries(AreaSeries, { lineColor: cssVar("--accent"), topColor: "rgba(68, 147, 248, .35)", bottomColor: "rgba(68, 147, 248, 0)", lineWidth: 2 });
    ownLine = chart.addSeries(LineSeries, { color: cssVar("--accent"), lineWidth: 2, priceFormat: percentFormat });
    benchLine = chart.addSeries(LineSeries, { color: cssVar("--muted"), lineWidth: 2, lineStyle: 2, priceFormat: percentFormat });
  }
  const compare = mode === "compare";
  area.applyOptions({ visible: !compare });
  ownLine.applyOptions({ visible: compare });
  benchLine.applyOptions({ visible: compare });
  area.setData(points.map((p) => ({ time: p.day, value: Number(p.value) })));
  // Both lines from 0 % on the first day both have (a benchmark may start later).
  const first = points.find((p) => p.benchmark !== null);
  const from = first ? 1 + first.twr : 1;
  const shown = first ? points.slice(points.indexOf(first)) : points;
  ownLine.setData(shown.map((p) => ({ time: p.day, value: ((1 + p.twr) / from - 1) * 100 })));
  benchLine.setData(shown.filter((p) => p.benchmark !== null).map((p) => ({ time: p.day, value: p.benchmark * 100 })));
  chart.timeScale().fitContent();
  box.dataset.last = points.length ? points[points.length - 1].value : "";
  box.dataset.mode = mode;
  const legend = $("#compare-legend");
  legend.hidden = !compare;
  $("#benchmark-name").textContent = $("#benchmark-picker").value || "no benchmark chosen";
}
for (const button of document.querySelectorAll(".chart-mode button")) {
  button.addEventListener("click", () => {
    mode = button.dataset.mode;
    for (const other of document.querySelectorAll(".chart-mode button")) other.setAttribute("aria-pressed", String(other === button));
    drawHistory(lastPoints);
  });
}

// --- income ---

let incomeChart = null;
let bars = null;
function drawIncome(income) {
  for (const cell of document.querySelectorAll("[data-income]")) {
    const value = income[cell.dataset.income];
    cell.textContent = cell.dataset.income === "yield_on_cost_pct" ? (value === null ? "–" : `${formatPrice(value, 2)}%`) : money(value);
  }
  const box = $("#income-chart");
  if (!incomeChart) {
    incomeChart = newChart(box, { handleScroll: false, handleScale: false });
    bars = incomeChart.addSeries(HistogramSeries, { color: cssVar("--up"), priceFormat: { type: "price", precision: 2, minMove: 0.01 } });
  }
  bars.setData(income.months.map((m) => ({ time: `${m.month}-01`, value: Number(m.amount) })));
  incomeChart.timeScale().fitContent();
  box.dataset.months = income.months.length;
  box.hidden = income.months.length === 0;
  $("#income-holdings tbody").replaceChildren(...income.holdings.map((h) => {
    const row = document.createElement("tr");
    for (const text of [h.symbol, money(h.ttm), h.forward === null ? "–" : money(h.forward), h.yield_on_cost_pct === null ? "–" : `${formatPrice(h.yield_on_cost_pct, 2)}%`]) {
      row.insertCell().textContent = text;
    }
    row.cells[0].className = "sym";
    for (const cell of [...row.cells].slice(1)) cell.className = "num";
    return row;
  }));
}

// --- realized gains by lot ---

function lotsQuery() {
  return `?year=${$("#tax-year").value}&method=${$("#tax-method").value}`;
}

function fetchLots() {
  return api(`${base}/tax-lots/${lotsQuery()}`);
}

let lotsShown = false;
function drawLots(report) {
  if (!lotsShown && report.lots.length === 0 && report.years.length) {
    // This year has no sale yet: the first view is of the latest year that has one.
    lotsShown = true;
    const year = report.years[report.years.length - 1];
    $("#tax-year").replaceChildren(new Option(year, year, false, true));
    fetchLots().then(drawLots).catch((error) => say(describeError(error), true));
    return;
  }
  lotsShown = true;
  const years = $("#tax-year");
  const wanted = [...new Set([...report.years, report.year])].sort((a, b) => b - a);
  if ([...years.options].map((o) => Number(o.value)).join() !== wanted.join()) {
    years.replaceChildren(...wanted.map((y) => new Option(y, y, false, y === report.year)));
  }
  $("#tax-csv").href = `${base}/tax-lots/csv/${lotsQuery()}`;
  $("#tax-what-if").hidden = report.method === $("#method-picker").value;
  $("#tax-empty").hidden = report.lots.length > 0;
  const row = (cells, className = "") => {
    const tr = document.createElement("tr");
    if (className) tr.className = className;
    for (const text of cells) tr.insertCell().textContent = text;
    [...tr.cells].forEach((cell, i) => { cell.className = i >= 3 && i <= 6 ? "num" : ""; });
    return tr;
  };
  $("#tax-lots tbody").replaceChildren(...report.lots.map((l) => {
    const rates = l.currency === report.currency ? "–" : `${l.buy_rate === null ? "pooled" : formatPrice(l.buy_rate, 4)} → ${formatPrice(l.sale_rate, 4)} (FX ${signed(l.currency_effect)})`;
    const tr = row([l.symbol, l.acquired, l.sold, l.quantity, money(l.proceeds), money(l.cost), signed(l.gain), l.term, rates]);
    tr.cells[6].className = `num ${direction(l.gain)}`;
    return tr;
  }));
  const totals = report.lots.length === 0 ? [] : ["short", "long", "all"].map((term) => {
    const t = report.totals[term];
    const label = term === "all" ? "Total" : `${term[0].toUpperCase()}${term.slice(1)} term`;
    return row([label, "", "", "", money(t.proceeds), money(t.cost), signed(t.gain), "", ""], "total");
  });
  $("#tax-lots tfoot").replaceChildren(...totals);
}

for (const picker of ["#tax-year", "#tax-method"]) {
  $(picker).addEventListener("change", () => fetchLots().then(drawLots).catch((error) => say(describeError(error), true)));
}

// --- import ---

let previewed = null;
let mapping = null; // tickstream's column -> the file's, for a file with its own header
$("#import-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("#import-file").files[0];
  if (!file) return;
  previewed = await file.text();
  mapping = null;
  await runImport(true);
});

const OURS = ["time", "kind", "symbol", "quantity", "price", "fee", "note"];
const GUESS = {
  time: /^(time|date|trade ?date|datetime|run date)$/i,
  kind: /^(kind|type|action|side)$/i,
  symbol: /^(symbol|ticker|instrument)$/i,
  quantity: /^(quantity|qty|shares|units|amount)$/i,
  price: /^(price|unit price|price per share)$/i,
  fee: /^(fee|fees|commission|fees? & comm)$/i,
  note: /^(note|notes|description|memo)$/i,
};

/** The cells of a CSV line (quoted cells with commas and "" inside them too). */
function csvCells(line) {
  const cells = [];
  let cell = "";
  let quoted = false;
  for (let i = 0; i < line.length; i += 1) {
    const c = line[i];
    if (quoted && c === '"' && line[i + 1] === '"') { cell += '"'; i += 1; }
    else if (c === '"') quoted = !quoted;
    else if (c === "," && !quoted) { cells.push(cell.trim()); cell = ""; }
    else cell += c;
  }
  cells.push(cell.trim());
  return cells;
}

/** A file whose header is not tickstream's nor a broker's: say which of its columns holds
 * each of ours (guessed from the names), as Portfolio Performance's import asks. */
function showMapping(result) {
  const header = csvCells(previewed.replace(/^\ufeff/, "").split(/\r\n|\r|\n/)[0] || "");
  const form = document.createElement("form");
  form.id = "import-mapping";
  form.className = "tx-form";
  const intro = document.createElement("p");
  intro.className = "note";
  intro.textContent = "This file has its own columns. Say which holds each of tickstream's (time, kind, symbol and quantity are needed; kinds must read buy, sell, deposit, withdrawal, dividend, fee or split):";
  form.append(intro);
  for (const ours of OURS) {
    const label = document.createElement("label");
    label.textContent = ours;
    const select = document.createElement("select");
    select.name = ours;
    select.append(new Option("—", ""));
    for (const theirs of header) select.append(new Option(theirs, theirs, false, GUESS[ours].test(theirs)));
    label.append(select);
    form.append(label);
  }
  const go = document.createElement("button");
  go.type = "submit";
  go.textContent = "Preview with these columns";
  form.append(go);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    mapping = Object.fromEntries([...new FormData(form)].filter(([, theirs]) => theirs));
    await runImport(true);
  });
  result.append(form);
}
$("#import-confirm").onclick = () => runImport(false);

async function runImport(preview) {
  const result = $("#import-result");
  $("#import-confirm").hidden = true;
  try {
    const source = $("#import-source").value;
    const body = { csv: previewed, preview, source };
    if (mapping) body.columns = mapping;
    const r = await api(`${base}/import/`, { method: "POST", body });
    if (preview) {
      const from = { tickstream: "tickstream CSV", schwab: "a Charles Schwab export", fidelity: "a Fidelity export", mapped: "your columns" }[r.source] || r.source;
      const left = Object.entries(r.left_out || {}).map(([action, n]) => `${action} (${n})`);
      result.replaceChildren();
      const head = document.createElement("p");
      head.textContent = `Read as ${from}. ${r.rows} rows: ${r.added} to add, ${r.skipped} imported before.`
        + (left.length ? ` Left out, as tickstream does not track them: ${left.join(", ")}.` : "");
      result.append(head);
      result.append(previewTable(r.transactions));
      $("#import-confirm").hidden = r.added === 0;
    } else {
      result.innerHTML = `<p class="up">Imported ${r.added} transactions (${r.skipped} were there already).</p>`;
      previewed = null;
      mapping = null;
      $("#import-file").value = "";
      await afterChange();
    }
  } catch (error) {
    result.innerHTML = "";
    const head = document.createElement("p");
    head.className = "down";
    head.textContent = describeError(error);
    result.append(head);
    const problems = (error.details && error.details.problems) || [];
    if (problems.length) result.append(problemTable(problems));
    if (problems.length && problems[0].row === 1 && problems[0].code === "bad_header" && !mapping) showMapping(result);
  }
}

function table(headers, rows, className = "") {
  const t = document.createElement("table");
  t.className = `quotes ${className}`;
  t.createTHead().insertRow().append(...headers.map((h) => Object.assign(document.createElement("th"), { textContent: h })));
  const body = t.createTBody();
  for (const cells of rows) {
    const row = body.insertRow();
    for (const text of cells) row.insertCell().textContent = text ?? "";
  }
  return t;
}

function previewTable(rows) {
  return table(["Time", "Kind", "Symbol", "Quantity", "Price", "Fee", "Note"], rows.map((t) => [formatTime(t.time, { withDate: true }), t.kind, t.symbol, t.quantity, t.price, t.fee, t.note]));
}

function problemTable(problems) {
  return table(["Row", "Column", "Problem"], problems.map((p) => [p.row ?? "–", p.column || "–", p.message]), "import-problems");
}

resetForm();
afterChange().catch((error) => say(describeError(error), true));

// --- the portfolio itself: rename, delete ---

$("#portfolio-rename")?.addEventListener("click", async () => {
  const heading = $("#portfolio-name-heading");
  const name = prompt("New name of the portfolio", heading.textContent)?.trim();
  if (!name || name === heading.textContent) return;
  try {
    await api(`${base}/`, { method: "PATCH", body: { name } });
    heading.textContent = name;
    document.title = `${name} · tickstream`;
    say(`Renamed to ${name}.`);
  } catch (error) {
    say(describeError(error), true);
  }
});

$("#portfolio-delete")?.addEventListener("click", async () => {
  const name = $("#portfolio-name-heading").textContent;
  if (!confirm(`Delete the portfolio “${name}” and all its transactions? This cannot be undone.`)) return;
  try {
    await api(`${base}/`, { method: "DELETE" });
    location.assign("/portfolio/");
  } catch (error) {
    say(describeError(error), true);
  }
});
