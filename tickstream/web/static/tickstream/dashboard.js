// The dashboard: a live watchlist and a candle chart with indicators.
//
// History comes from the REST API (`/api/candles/?indicators=default`: the same engine that
// computes the live values), live data from the stream: `ticker:<SYM>` for every row,
// `candles:<SYM>:<interval>` and `analysis:<SYM>` for the chart.
import {
  createChart,
  CandlestickSeries,
  HistogramSeries,
  LineSeries,
  ColorType,
  CrosshairMode,
} from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { TickstreamClient, coalesce } from "./tickstream.js";
import { api } from "./api.js";
import {
  decimalsOf,
  direction,
  formatChange,
  chartTickMark,
  formatDay,
  formatPercent,
  formatPrice,
  formatTime,
  formatVolume,
} from "./format.js";
import { cssVar, flash, instruments, showConnection } from "./ui.js";

const root = document.getElementById("dashboard");
const container = document.getElementById("chart");
const legend = document.getElementById("legend");
const search = document.getElementById("symbol-search");
const list = instruments();
const bySymbol = new Map(list.map((i) => [i.symbol, i]));
const rows = new Map([...document.querySelectorAll("#watchlist tr[data-symbol]")].map((r) => [r.dataset.symbol, r]));
const INDICATOR_KEYS = ["sma", "ema", "bb", "rsi", "macd"];
// Each indicator's colour, on its line and its value in the legend: a CSS variable per
// theme (app.css), dark enough on the light theme's white to read (4.5:1).
const COLOR_VARS = { sma: "--ind-sma", ema: "--ind-ema", bb: "--ind-bb", rsi: "--ind-rsi", macd: "--ind-macd", signal: "--ind-signal" };
const COLORS = {}; // the current theme's values, read when the chart is built
// Each indicator's parameters (the server's defaults first), editable and remembered.
const DEFAULT_PARAMS = { sma: [20], ema: [20], bb: [20, 2], rsi: [14], macd: [12, 26, 9] };
const params = loadParams();

function loadParams() {
  try {
    const saved = JSON.parse(localStorage.getItem("tickstream-indicator-params"));
    if (saved && typeof saved === "object") {
      const valid = (key) => Array.isArray(saved[key]) && saved[key].length === DEFAULT_PARAMS[key].length && saved[key].every((x) => Number.isFinite(x) && x > 0);
      return Object.fromEntries(Object.keys(DEFAULT_PARAMS).map((key) => [key, valid(key) ? saved[key] : DEFAULT_PARAMS[key]]));
    }
  } catch (error) {
    /* nothing saved */
  }
  return structuredClone(DEFAULT_PARAMS);
}

const customized = () => Object.keys(DEFAULT_PARAMS).some((key) => params[key].join() !== DEFAULT_PARAMS[key].join());

/** The `indicators=` of the candles API: the server's default set, or these parameters. */
function indicatorSpec() {
  if (!customized()) return "default";
  const { sma, ema, bb, rsi, macd } = params;
  return `sma:${sma[0]},ema:${ema[0]},bbands:${bb[0]}:${bb[1]},rsi:${rsi[0]},macd:${macd.join(":")}`;
}

const LABELS = {
  sma: () => `SMA ${params.sma[0]}`,
  ema: () => `EMA ${params.ema[0]}`,
  bb: () => `Bollinger ${params.bb[0]}, ${params.bb[1]}`,
  rsi: () => `RSI ${params.rsi[0]}`,
  macd: () => `MACD ${params.macd.join(", ")}`,
};
// Candles an indicator needs before its first value.
const NEEDS = {
  get sma() { return [LABELS.sma(), params.sma[0]]; },
  get ema() { return [LABELS.ema(), params.ema[0]]; },
  get bb() { return [LABELS.bb(), params.bb[0]]; },
  get rsi() { return [LABELS.rsi(), params.rsi[0] + 1]; },
  get macd() { return [LABELS.macd(), params.macd[1] + params.macd[2] - 1]; },
};
const DAILY = new Set(["1d"]);
const SPARK_POINTS = 60;
const SPARK_WIDTH = 56; // CSS pixels, as canvas.spark in app.css
const SPARK_HEIGHT = 22;

const client = new TickstreamClient();
client.onstate = showConnection;
window.tickstreamClient = client; // for the console (and the browser tests)

// --- Settings: symbol and interval in the address, indicators remembered ---

const query = new URLSearchParams(location.search);
const intervals = [...document.querySelectorAll("#intervals button")].map((b) => b.dataset.interval);
const asked = query.get("symbol");
const view = {
  symbol: bySymbol.has(asked) ? asked : pickDefault(),
  interval: intervals.includes(query.get("interval")) ? query.get("interval") : "1m",
  indicators: new Set(loadIndicators()),
};

if (asked && !bySymbol.has(asked)) {
  // Said, not silently replaced by the default.
  const note = document.getElementById("symbol-note");
  note.hidden = false;
  note.textContent = `There is no instrument “${asked.slice(0, 32)}”; showing ${view.symbol} instead.`;
}

function pickDefault() {
  const wanted = root.dataset.defaultSymbol;
  return bySymbol.has(wanted) ? wanted : list[0]?.symbol;
}

function loadIndicators() {
  try {
    const saved = JSON.parse(localStorage.getItem("tickstream-indicators"));
    if (Array.isArray(saved)) return saved.filter((k) => INDICATOR_KEYS.includes(k));
  } catch (error) {
    /* nothing saved */
  }
  return ["sma", "rsi"];
}

function saveView() {
  const url = new URL(location.href);
  url.searchParams.set("symbol", view.symbol);
  url.searchParams.set("interval", view.interval);
  history.replaceState(null, "", url);
  try {
    localStorage.setItem("tickstream-indicators", JSON.stringify([...view.indicators]));
  } catch (error) {
    /* private mode */
  }
}

// --- Watchlist ---

const quotes = new Map(); // symbol -> latest quote
const sparks = new Map(); // symbol -> [{t (minute), price}]

function renderRow(symbol) {
  const row = rows.get(symbol);
  const q = quotes.get(symbol);
  if (!row || !q) return;
  const decimals = decimalsOf(bySymbol.get(symbol)?.tick_size);
  const dir = direction(q.change);
  const last = row.querySelector('[data-field="last"]');
  const text = formatPrice(q.last, decimals);
  if (last.textContent !== text) {
    const before = Number(last.dataset.value);
    last.textContent = text;
    last.dataset.value = q.last;
    if (Number.isFinite(before)) flash(last, Number(q.last) >= before);
  }
  const change = row.querySelector('[data-field="change"]');
  change.textContent = formatChange(q.change, decimals);
  change.className = dir;
  const pct = row.querySelector('[data-field="change_pct"]');
  pct.textContent = formatPercent(q.change_pct);
  pct.className = dir;
  drawSpark(row.querySelector("canvas.spark"), sparks.get(symbol) || [], dir);
}

function pushSpark(symbol, price, timeMs) {
  const points = sparks.get(symbol) || [];
  const minute = Math.floor(timeMs / 60000);
  const last = points[points.length - 1];
  if (last && last.t === minute) last.price = price;
  else points.push({ t: minute, price });
  if (points.length > SPARK_POINTS) points.splice(0, points.length - SPARK_POINTS);
  sparks.set(symbol, points);
}

function drawSpark(canvas, points, dir) {
  if (!canvas || points.length < 2) return;
  // The size is fixed in CSS: reading it back would force a layout per row.
  const ratio = window.devicePixelRatio || 1;
  const width = SPARK_WIDTH;
  const height = SPARK_HEIGHT;
  if (canvas.width !== width * ratio) {
    canvas.width = width * ratio;
    canvas.height = height * ratio;
  }
  const ctx = canvas.getContext("2d");
  ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
  ctx.clearRect(0, 0, width, height);
  const prices = points.map((p) => p.price);
  const low = Math.min(...prices);
  const span = Math.max(...prices) - low || 1;
  ctx.beginPath();
  points.forEach((p, i) => {
    const x = (i / (points.length - 1)) * (width - 2) + 1;
    const y = height - 2 - ((p.price - low) / span) * (height - 4);
    if (i === 0) ctx.moveTo(x, y);
    else ctx.lineTo(x, y);
  });
  ctx.strokeStyle = cssVar(dir === "down" ? "--down" : dir === "up" ? "--up" : "--muted");
  ctx.lineWidth = 1.25;
  ctx.stroke();
}

// Only rows on screen are drawn; a row scrolled into view is drawn from the latest quote.
const onScreen = new Set();
const rowWatcher = new IntersectionObserver(
  (entries) => {
    for (const entry of entries) {
      const symbol = entry.target.dataset.symbol;
      if (entry.isIntersecting) {
        onScreen.add(symbol);
        coalesce(`row:${symbol}`, () => renderRow(symbol));
      } else {
        onScreen.delete(symbol);
      }
    }
  },
  { root: document.querySelector(".watchlist-scroll"), rootMargin: "120px 0px" },
);
for (const row of rows.values()) rowWatcher.observe(row);

client.subscribe(
  [...rows.keys()].map((s) => `ticker:${s}`),
  (event) => {
    const q = event.data;
    if (!q || !q.symbol) return;
    quotes.set(q.symbol, q);
    if (event.late) loadSparks([q.symbol]); // its history was read before it was served
    if (q.last && q.time) pushSpark(q.symbol, Number(q.last), Date.parse(q.time));
    if (onScreen.has(q.symbol)) coalesce(`row:${q.symbol}`, () => renderRow(q.symbol));
    if (q.symbol === view.symbol) coalesce("head", renderHead);
  },
);

// Feed health: a status line (which venues are live, which lag) and, on each row whose
// feed is silent, a mark, so a stale price is seen at once.
const feedsStatus = document.getElementById("feeds-status");
client.subscribe(["feeds"], (event) => {
  const feeds = event.data?.feeds;
  if (!Array.isArray(feeds) || !feedsStatus) return;
  const stale = new Map();
  feedsStatus.replaceChildren(
    ...feeds.map((f) => {
      const item = document.createElement("span");
      const age = f.last_message_age_s == null ? "" : ` ${Math.round(f.last_message_age_s)}s`;
      let state = f.state;
      if (f.state === "live" && f.lagging) state = `lagging${age}`;
      const bad = f.state !== "live" || f.lagging;
      item.className = `feed ${bad ? "down" : "up"}`;
      item.dataset.state = f.lagging ? "lagging" : f.state;
      item.textContent = `${f.venue} ${state}`;
      if (f.detail) item.title = f.detail;
      if (bad && f.state !== "finished") for (const s of f.symbols) stale.set(s, `${f.venue}: ${state}`);
      return item;
    }),
  );
  for (const [symbol, row] of rows) {
    const why = stale.get(symbol);
    row.classList.toggle("stale", Boolean(why));
    if (why) row.dataset.stale = why;
    else delete row.dataset.stale;
  }
});

async function loadSparks(symbols = [...rows.keys()]) {
  const worker = async () => {
    while (symbols.length) {
      const symbol = symbols.shift();
      try {
        const response = await fetch(`/api/candles/?symbol=${encodeURIComponent(symbol)}&interval=1m&limit=${SPARK_POINTS}`);
        if (!response.ok) continue;
        const page = await response.json();
        const live = sparks.get(symbol) || [];
        const history = page.candles.map((c) => ({ t: Math.floor(c.t / 60000), price: Number(c.close) }));
        const first = live[0]?.t ?? Infinity;
        sparks.set(symbol, [...history.filter((p) => p.t < first), ...live].slice(-SPARK_POINTS));
        coalesce(`row:${symbol}`, () => renderRow(symbol));
      } catch (error) {
        /* the sparkline fills from live prices instead */
      }
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
}

function select(symbol) {
  if (!bySymbol.has(symbol) || symbol === view.symbol) return;
  view.symbol = symbol;
  saveView();
  openChart();
  if (matchMedia("(max-width: 900px)").matches) {
    document.querySelector(".chart-panel").scrollIntoView({ behavior: "smooth", block: "start" });
  }
}

for (const [symbol, row] of rows) {
  row.addEventListener("click", () => select(symbol));
  row.addEventListener("keydown", (event) => {
    if (event.key === "Enter" || event.key === " ") {
      event.preventDefault();
      select(symbol);
    }
  });
}

search.addEventListener("input", () => {
  const text = search.value.trim().toLowerCase();
  for (const [symbol, row] of rows) {
    // Rows outside the user's watchlist (`data-extra`) show only while they match a search.
    row.hidden = text ? rank(symbol, text) === Infinity : "extra" in row.dataset;
  }
});
/** How well a symbol matches the search text: lower is better, Infinity is no match. */
function rank(symbol, text) {
  const sym = symbol.toLowerCase();
  const name = (bySymbol.get(symbol)?.name || "").toLowerCase();
  if (sym === text || sym.split("-")[0] === text) return 0;
  if (sym.startsWith(text)) return 1;
  if (name.startsWith(text)) return 2 + name.length / 1000; // "Bitcoin" before "Bitcoin Cash"
  if (name.split(/\W+/).some((word) => word.startsWith(text))) return 3;
  if (sym.includes(text) || name.includes(text)) return 4;
  return Infinity;
}

search.addEventListener("keydown", (event) => {
  if (event.key !== "Enter") return;
  const text = search.value.trim().toLowerCase();
  if (!text) return;
  const best = [...rows.keys()].map((s) => [rank(s, text), s]).sort((a, b) => a[0] - b[0])[0];
  if (best && best[0] !== Infinity) select(best[1]);
});

// --- Editing the watchlist (signed in): add, remove, reorder; saved as it changes ---

const editButton = document.getElementById("watchlist-edit");
const listBody = document.querySelector("#watchlist tbody");
let watchlistId = root.dataset.watchlistId || null;

function watchedSymbols() {
  return [...listBody.querySelectorAll("tr[data-symbol]:not([data-extra])")].map((r) => r.dataset.symbol);
}

async function saveWatchlist() {
  const symbols = watchedSymbols();
  try {
    if (watchlistId) {
      await api(`/api/watchlists/${watchlistId}/`, { method: "PATCH", body: { symbols } });
    } else {
      const made = await api("/api/watchlists/", { method: "POST", body: { name: "Watchlist", symbols } });
      watchlistId = String(made.id);
      root.dataset.watchlistId = watchlistId;
    }
    editButton.dataset.saved = String(Number(editButton.dataset.saved || 0) + 1); // for tests
  } catch (error) {
    console.warn("tickstream: the watchlist was not saved", error);
    editButton.textContent = "Not saved: retry";
  }
}

function tool(label, title, action) {
  const button = document.createElement("button");
  button.type = "button";
  button.className = "small";
  button.textContent = label;
  button.title = title;
  button.setAttribute("aria-label", title);
  button.addEventListener("click", (event) => {
    event.stopPropagation(); // not a choice of the row's chart
    action();
    drawTools();
    saveWatchlist();
  });
  return button;
}

/** In editing, a watched row has ↑ ↓ Remove and any other row Add. */
function drawTools() {
  for (const node of listBody.querySelectorAll(".wl-tools")) node.remove();
  if (editButton.getAttribute("aria-pressed") !== "true") return;
  const watched = watchedSymbols();
  for (const [symbol, row] of rows) {
    const box = document.createElement("span");
    box.className = "wl-tools";
    if ("extra" in row.dataset) {
      box.append(tool("Add", `Add ${symbol} to the watchlist`, () => {
        delete row.dataset.extra;
        const lastWatched = [...listBody.querySelectorAll("tr[data-symbol]:not([data-extra])")].filter((r) => r !== row).pop();
        if (lastWatched) lastWatched.after(row);
        else listBody.prepend(row);
      }));
    } else {
      const at = watched.indexOf(symbol);
      if (at > 0) box.append(tool("↑", `Move ${symbol} up`, () => row.previousElementSibling.before(row)));
      if (at < watched.length - 1) box.append(tool("↓", `Move ${symbol} down`, () => row.nextElementSibling.after(row)));
      box.append(tool("Remove", `Remove ${symbol} from the watchlist`, () => {
        row.dataset.extra = "";
        const firstExtra = listBody.querySelector("tr[data-extra]:not([data-symbol='" + symbol + "'])");
        if (firstExtra) firstExtra.before(row);
        else listBody.append(row);
      }));
    }
    row.cells[0].append(box);
  }
}

editButton?.addEventListener("click", () => {
  const editing = editButton.getAttribute("aria-pressed") !== "true";
  editButton.setAttribute("aria-pressed", String(editing));
  editButton.textContent = editing ? "Done" : "Edit list";
  // While editing every instrument shows, to be added; afterwards the list as saved.
  for (const row of rows.values()) row.hidden = editing ? false : "extra" in row.dataset && Boolean(watchlistId);
  drawTools();
});

// --- Chart ---

let chart = null;
let series = {};
let bars = []; // [{time, open, high, low, close, volume, values}] oldest first
let chartStop = null;
let loadToken = 0;
let liveUpdates = 0;

function priceFormat() {
  const tick = bySymbol.get(view.symbol)?.tick_size || "0.01";
  return { type: "price", precision: decimalsOf(tick), minMove: Number(tick) };
}

// Each line's output among the server's indicator values (sma_20, bb_upper_20_2,
// macd_12_26_9, …): the set is the server's, so each name is looked up once.
const OUTPUTS = {
  sma: /^sma_/,
  ema: /^ema_/,
  bbUpper: /^bb_upper_/,
  bbMid: /^bb_mid_/,
  bbLower: /^bb_lower_/,
  rsi: /^rsi_/,
  macd: /^macd_\d/,
  macdSignal: /^macd_signal_/,
  macdHist: /^macd_hist_/,
};
const outputNames = {};

function outputOf(values, line) {
  let name = outputNames[line];
  if (name === undefined && values) {
    name = Object.keys(values).find((k) => OUTPUTS[line].test(k));
    if (name !== undefined) outputNames[line] = name;
  }
  return name;
}

function buildChart() {
  if (chart) chart.remove();
  const text = cssVar("--muted");
  const grid = cssVar("--border");
  const up = cssVar("--up");
  const down = cssVar("--down");
  chart = createChart(container, {
    autoSize: true,
    layout: {
      background: { type: ColorType.Solid, color: cssVar("--panel") },
      textColor: text,
      fontFamily: getComputedStyle(document.body).fontFamily,
      panes: { separatorColor: grid },
    },
    grid: { vertLines: { color: grid }, horzLines: { color: grid } },
    crosshair: { mode: CrosshairMode.Normal },
    rightPriceScale: { borderColor: grid },
    // rightOffset: room after the newest candle, so the last time label is not cut.
    timeScale: { borderColor: grid, timeVisible: true, secondsVisible: view.interval === "1s", tickMarkFormatter: chartTickMark, rightOffset: 6 },
    localization: { timeFormatter: (t) => formatTime(t * 1000, { withDate: !["1s", "1m"].includes(view.interval) }) },
  });
  for (const [key, name] of Object.entries(COLOR_VARS)) COLORS[key] = cssVar(name);
  const format = priceFormat();
  series = {
    candles: chart.addSeries(CandlestickSeries, {
      upColor: up, downColor: down, wickUpColor: up, wickDownColor: down, borderVisible: false, priceFormat: format,
    }),
    volume: chart.addSeries(HistogramSeries, { priceScaleId: "volume", priceFormat: { type: "volume" }, lastValueVisible: false, priceLineVisible: false }),
  };
  chart.priceScale("volume").applyOptions({ scaleMargins: { top: 0.82, bottom: 0 } });
  chart.priceScale("right").applyOptions({ scaleMargins: { top: 0.06, bottom: 0.2 } });
  const line = (color, extra = {}, pane = 0) =>
    chart.addSeries(LineSeries, { color, lineWidth: 1.5, priceLineVisible: false, lastValueVisible: false, crosshairMarkerVisible: false, ...extra }, pane);
  if (view.indicators.has("sma")) series.sma = line(COLORS.sma, { priceFormat: format });
  if (view.indicators.has("ema")) series.ema = line(COLORS.ema, { priceFormat: format });
  if (view.indicators.has("bb")) {
    series.bbUpper = line(COLORS.bb, { priceFormat: format, lineStyle: 2 });
    series.bbMid = line(COLORS.bb, { priceFormat: format, lineWidth: 1 });
    series.bbLower = line(COLORS.bb, { priceFormat: format, lineStyle: 2 });
  }
  let pane = 1;
  if (view.indicators.has("rsi")) {
    series.rsi = line(
      COLORS.rsi,
      {
        lastValueVisible: true,
        priceFormat: { type: "price", precision: 1, minMove: 0.1 },
        // RSI is read against fixed 30/70 levels: show its whole 0-100 range.
        autoscaleInfoProvider: () => ({ priceRange: { minValue: 0, maxValue: 100 } }),
      },
      pane,
    );
    series.rsi.createPriceLine({ price: 70, color: grid, lineStyle: 2, axisLabelVisible: false });
    series.rsi.createPriceLine({ price: 30, color: grid, lineStyle: 2, axisLabelVisible: false });
    pane += 1;
  }
  if (view.indicators.has("macd")) {
    series.macdHist = chart.addSeries(HistogramSeries, { priceLineVisible: false, lastValueVisible: false }, pane);
    series.macd = line(COLORS.macd, { lastValueVisible: true }, pane);
    series.macdSignal = line(COLORS.signal, {}, pane);
  }
  // Each indicator pane keeps a share of the height (a fixed height squashed RSI to a
  // few pixels once MACD was on too); the chart grows with its panes (app.css).
  const panes = chart.panes();
  panes[0].setStretchFactor(3);
  for (let i = 1; i < panes.length; i += 1) panes[i].setStretchFactor(1);
  container.dataset.panes = String(panes.length);
  hoverTime = null;
  chart.subscribeCrosshairMove((param) => {
    hoverTime = param.time ?? null; // null: the pointer left, the newest candle again
    renderLegend();
  });
  setAllData();
  requestAnimationFrame(() => {
    if (chart) container.dataset.paneHeights = chart.panes().map((p) => p.getHeight()).join(",");
  });
}

function volumeBar(bar) {
  const color = bar.close >= bar.open ? cssVar("--up") : cssVar("--down");
  return { time: bar.time, value: bar.volume, color: color + "66" };
}

function indicatorPoints(bar) {
  const v = bar.values || {};
  const point = (key) => {
    const value = key === undefined ? undefined : v[key];
    return value === null || value === undefined ? { time: bar.time } : { time: bar.time, value };
  };
  const points = {};
  for (const line of Object.keys(OUTPUTS)) points[line] = point(outputOf(v, line));
  const hist = points.macdHist;
  if (hist.value !== undefined) hist.color = (hist.value >= 0 ? cssVar("--up") : cssVar("--down")) + "99";
  return points;
}

function setAllData() {
  if (!chart) return;
  series.candles.setData(bars.map(({ time, open, high, low, close }) => ({ time, open, high, low, close })));
  series.volume.setData(bars.map(volumeBar));
  const points = bars.map(indicatorPoints);
  for (const key of Object.keys(series)) {
    if (key === "candles" || key === "volume") continue;
    series[key].setData(points.map((p) => p[key]));
  }
  markChart();
  renderLegend();
}

function upsert(bar) {
  const last = bars[bars.length - 1];
  if (last && bar.time < last.time) return; // older than what is drawn: history has it
  if (last && bar.time === last.time) {
    if (!bar.values && last.values) bar.values = last.values;
    bars[bars.length - 1] = bar;
  } else {
    bars.push(bar);
    if (bars.length > 2000) bars.splice(0, bars.length - 2000);
  }
  if (!chart) return;
  series.candles.update({ time: bar.time, open: bar.open, high: bar.high, low: bar.low, close: bar.close });
  series.volume.update(volumeBar(bar));
  updateIndicators(bar);
}

function updateIndicators(bar) {
  const points = indicatorPoints(bar);
  for (const key of Object.keys(series)) {
    if (key === "candles" || key === "volume") continue;
    if (points[key].value !== undefined) series[key].update(points[key]);
  }
}

/** "1s", "5m", "1h", "1d" in seconds. */
function intervalSeconds(name) {
  const unit = { s: 1, m: 60, h: 3600, d: 86400 }[name.slice(-1)] ?? 60;
  return Number(name.slice(0, -1)) * unit;
}

function toBar(candle, values) {
  return {
    time: Math.floor(candle.t / 1000),
    open: Number(candle.open),
    high: Number(candle.high),
    low: Number(candle.low),
    close: Number(candle.close),
    volume: Number(candle.volume),
    values: values ?? candle.values,
  };
}

/** What the chart cannot show yet, said under it: an indicator waiting for candles. */
function noteHistory() {
  const note = document.getElementById("chart-note");
  if (!note) return;
  const short = [...view.indicators]
    .filter((key) => NEEDS[key] && bars.length < NEEDS[key][1])
    .map((key) => `${NEEDS[key][0]} needs ${NEEDS[key][1]} candles`);
  note.hidden = !short.length;
  note.textContent = short.length
    ? `Not enough history yet at ${view.interval}: ${bars.length} candle${bars.length === 1 ? "" : "s"} so far; ${short.join(", ")}.`
    : "";
}

function markChart() {
  noteHistory();
  container.dataset.symbol = view.symbol;
  container.dataset.interval = view.interval;
  container.dataset.candles = String(bars.length);
  container.dataset.lastTime = String(bars[bars.length - 1]?.time ?? "");
  container.dataset.liveUpdates = String(liveUpdates);
}

let hoverTime = null; // the candle under the crosshair, while there is one

/** The candle at `time` (bars are in time order: a bisection), or undefined. */
function barAt(time) {
  let lo = 0;
  let hi = bars.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (bars[mid].time === time) return bars[mid];
    if (bars[mid].time < time) lo = mid + 1;
    else hi = mid - 1;
  }
  return undefined;
}

/** The legend of the candle under the crosshair, else of the newest: a live update
 * redraws it without moving it off the candle the reader points at. */
function renderLegend() {
  const bar = (hoverTime !== null && barAt(hoverTime)) || bars[bars.length - 1];
  legend.dataset.time = bar ? String(bar.time) : "";
  if (!bar) {
    legend.textContent = "";
    return;
  }
  const decimals = priceFormat().precision;
  const p = (x) => formatPrice(x, decimals);
  const v = bar.values || {};
  // A daily candle is a day: its date, not the midnight it starts at in this time zone.
  const when = DAILY.has(view.interval) ? formatDay(bar.time * 1000) : formatTime(bar.time * 1000, { withDate: true });
  const parts = [
    `<span>${when}</span>`,
    `O <b>${p(bar.open)}</b> H <b>${p(bar.high)}</b> L <b>${p(bar.low)}</b> C <b>${p(bar.close)}</b> V <b>${formatVolume(bar.volume)}</b>`,
  ];
  const show = (label, key, color, digits = decimals) => {
    const value = key ? v[key] : null;
    const text = value === null || value === undefined ? "—" : formatPrice(value, digits);
    parts.push(`${label} <b style="color: var(${color})">${text}</b>`);
  };
  if (view.indicators.has("sma")) show("SMA", outputOf(v, "sma"), COLOR_VARS.sma);
  if (view.indicators.has("ema")) show("EMA", outputOf(v, "ema"), COLOR_VARS.ema);
  if (view.indicators.has("bb")) {
    show("BB↑", outputOf(v, "bbUpper"), COLOR_VARS.bb);
    show("BB↓", outputOf(v, "bbLower"), COLOR_VARS.bb);
  }
  if (view.indicators.has("rsi")) show("RSI", outputOf(v, "rsi"), COLOR_VARS.rsi, 1);
  if (view.indicators.has("macd")) show("MACD", outputOf(v, "macd"), COLOR_VARS.macd, 3);
  legend.innerHTML = parts.join(" · ");
}

function renderHead() {
  const instrument = bySymbol.get(view.symbol);
  document.getElementById("chart-symbol").textContent = view.symbol;
  document.getElementById("chart-name").textContent = instrument?.name || "";
  const q = quotes.get(view.symbol);
  const decimals = decimalsOf(instrument?.tick_size);
  document.getElementById("chart-last").textContent = q ? formatPrice(q.last, decimals) : "–";
  const change = document.getElementById("chart-change");
  change.textContent = q ? `${formatChange(q.change, decimals)} (${formatPercent(q.change_pct)})` : "–";
  change.className = `num ${q ? direction(q.change) : ""}`;
  document.getElementById("chart-time").textContent = q?.time ? formatTime(q.time) : "";
  document.title = q ? `${view.symbol} ${formatPrice(q.last, decimals)} · tickstream` : "Dashboard · tickstream";
}

async function openChart() {
  const token = ++loadToken;
  if (chartStop) chartStop();
  for (const [symbol, row] of rows) row.setAttribute("aria-selected", String(symbol === view.symbol));
  for (const button of document.querySelectorAll("#intervals button")) {
    button.setAttribute("aria-pressed", String(button.dataset.interval === view.interval));
  }
  bars = [];
  liveUpdates = 0;
  buildChart();
  renderHead();
  const { symbol, interval } = view;
  const pending = [];
  let ready = false;
  const apply = (fn) => (ready ? fn() : pending.push(fn));
  const candleChannel = `candles:${symbol}:${interval}`;
  const analysisChannel = `analysis:${symbol}`;
  const handler = (event) => {
    if (token !== loadToken) return;
    if (event.channel === candleChannel) {
      if (event.kind === "snapshot") snapshotSeen = { seq: event.seq, candle: event.data?.candle };
      if (event.kind === "snapshot" && (event.reset || event.late)) {
        // The server lost what we had, or the history was read before the market pipeline
        // served (a page opened while it started): start again from the API.
        reloadHistory();
        return;
      }
      if (event.kind === "snapshot" && ready && rereads === 0 && behind()) {
        setTimeout(() => token === loadToken && reloadHistory(), 1000 * 2 ** rereads++);
      }
      const data = event.data || {};
      const custom = customized();
      apply(() => {
        // Custom parameters: the stream's values are of the default set; the API gives
        // those of the candles that close (the forming candle shows "—" until it does).
        for (const closed of data.closed || []) upsert(toBar(closed, custom ? {} : undefined));
        if (custom && (data.closed || []).length) refreshValues(symbol, interval, token);
        if (data.candle) upsert(toBar(data.candle));
        if (event.kind === "update") liveUpdates += 1;
        coalesce("chart-marks", markChart);
        coalesce("legend", () => renderLegend());
      });
    } else if (event.channel === analysisChannel) {
      if (customized()) return; // values of the default set: not these lines
      const values = event.data?.[interval];
      apply(() => {
        const last = bars[bars.length - 1];
        if (!values || !last) return;
        last.values = values;
        if (chart) updateIndicators(last);
      });
    }
  };
  // The history is read from the database; in the split layout its writer may still be
  // storing what the feed process back-filled when the stream already serves it. A stream
  // whose symbol has seen more ticks (`seq`) than its forming candle holds has older
  // candles: while the history read ends more than two intervals before the forming
  // candle, read it again (1, 2, 4, 8 s later; an illiquid symbol's real gap costs four
  // reads, once).
  let snapshotSeen = null;
  let rereads = 0;
  const behind = () => {
    const candle = snapshotSeen?.candle;
    if (!candle || !(snapshotSeen.seq > (candle.trades || 0))) return false;
    const start = toBar(candle).time;
    const older = bars.filter((bar) => bar.time < start);
    const lastRead = older.length ? older[older.length - 1].time : -Infinity;
    return start - lastRead > 2 * intervalSeconds(interval);
  };
  const channels = [candleChannel, analysisChannel];
  client.subscribe(channels, handler);
  chartStop = () => client.unsubscribe(channels, handler);
  async function reloadHistory() {
    ready = false;
    try {
      const response = await fetch(
        `/api/candles/?symbol=${encodeURIComponent(symbol)}&interval=${interval}&limit=500&indicators=${indicatorSpec()}`,
      );
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      const page = await response.json();
      if (token !== loadToken) return;
      bars = page.candles.map((c) => toBar(c));
      setAllData();
      if (bars.length < 120) chart.timeScale().fitContent(); // a short history fills the width
      else chart.timeScale().scrollToRealTime();
    } catch (error) {
      console.warn("tickstream: candle history unavailable", error);
    } finally {
      if (token === loadToken) {
        ready = true;
        for (const fn of pending.splice(0)) fn();
        markChart();
        if (rereads < 4 && behind()) setTimeout(() => token === loadToken && reloadHistory(), 1000 * 2 ** rereads++);
      }
    }
  }
  await reloadHistory();
}

for (const button of document.querySelectorAll("#intervals button")) {
  button.addEventListener("click", () => {
    if (button.dataset.interval === view.interval) return;
    view.interval = button.dataset.interval;
    saveView();
    openChart();
  });
}

/** The indicator values of the last closed candles, with custom parameters. */
async function refreshValues(symbol, interval, token) {
  try {
    const response = await fetch(
      `/api/candles/?symbol=${encodeURIComponent(symbol)}&interval=${interval}&limit=3&indicators=${indicatorSpec()}`,
    );
    if (!response.ok || token !== loadToken) return;
    for (const candle of (await response.json()).candles) {
      const bar = barAt(Math.floor(candle.t / 1000));
      if (bar && candle.values) {
        bar.values = candle.values;
        if (chart) updateIndicators(bar);
      }
    }
    coalesce("legend", () => renderLegend());
  } catch (error) {
    /* the next close tries again */
  }
}

function labelIndicators() {
  for (const box of document.querySelectorAll("#indicators input[type=checkbox]")) {
    const text = box.parentElement.querySelector("span") || box.parentElement.appendChild(document.createElement("span"));
    for (const node of [...box.parentElement.childNodes]) if (node.nodeType === Node.TEXT_NODE) node.remove();
    text.textContent = ` ${LABELS[box.value]()}`;
  }
  const note = document.getElementById("params-note");
  if (note) note.hidden = !customized();
}

const settingsForm = document.getElementById("indicator-params");
if (settingsForm) {
  for (const [key, values] of Object.entries(params)) {
    values.forEach((value, i) => {
      const input = settingsForm.elements.namedItem(`${key}${i}`);
      if (input) input.value = String(value);
    });
  }
  settingsForm.addEventListener("submit", (event) => {
    event.preventDefault();
    const error = document.getElementById("params-error");
    const next = {};
    for (const key of Object.keys(DEFAULT_PARAMS)) {
      next[key] = DEFAULT_PARAMS[key].map((_, i) => Number(settingsForm.elements.namedItem(`${key}${i}`).value));
    }
    const whole = (x) => Number.isInteger(x) && x >= 2 && x <= 500;
    const wrong = [
      [!whole(next.sma[0]), "SMA length"], [!whole(next.ema[0]), "EMA length"], [!whole(next.bb[0]), "Bollinger length"],
      [!(next.bb[1] >= 0.5 && next.bb[1] <= 5), "Bollinger width (0.5 to 5)"], [!whole(next.rsi[0]), "RSI length"],
      [!next.macd.every(whole) || next.macd[0] >= next.macd[1], "MACD lengths (fast below slow)"],
    ].find(([bad]) => bad);
    error.hidden = !wrong;
    if (wrong) {
      error.textContent = `Check the ${wrong[1]}: whole numbers from 2 to 500.`;
      return;
    }
    Object.assign(params, next);
    try {
      localStorage.setItem("tickstream-indicator-params", JSON.stringify(params));
    } catch (storageError) {
      /* private mode: for this page */
    }
    for (const line of Object.keys(outputNames)) delete outputNames[line]; // new names
    labelIndicators();
    openChart();
  });
  settingsForm.addEventListener("reset", () => {
    setTimeout(() => settingsForm.requestSubmit(), 0); // back to the defaults, applied
  });
}
labelIndicators();

for (const box of document.querySelectorAll("#indicators input")) {
  box.checked = view.indicators.has(box.value);
  box.addEventListener("change", () => {
    if (box.checked) view.indicators.add(box.value);
    else view.indicators.delete(box.value);
    saveView();
    buildChart();
  });
}

document.addEventListener("themechange", () => {
  buildChart();
  for (const symbol of rows.keys()) renderRow(symbol);
});

if (view.symbol) {
  saveView();
  openChart();
  loadSparks();
}
