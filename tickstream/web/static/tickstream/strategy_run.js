// A stored run's report: the equity curve, its drawdown, and the price with the fills marked
// (the figures and the fills table are rendered by the server).
import { createChart, AreaSeries, LineSeries, createSeriesMarkers } from "../vendor/lightweight-charts/lightweight-charts.standalone.production.mjs";
import { cssVar } from "./ui.js";

const data = JSON.parse(document.getElementById("run-chart").textContent);

/** [[ms, "value"], ...] as chart points: one per second (the last), in time order. */
function points(rows) {
  const out = [];
  for (const [ms, value] of rows) {
    const time = Math.floor(ms / 1000);
    const point = { time, value: Number(value) };
    if (out.length && out[out.length - 1].time === time) out[out.length - 1] = point;
    else out.push(point);
  }
  return out;
}

function chart(box) {
  return createChart(box, {
    autoSize: true,
    layout: { background: { color: "transparent" }, textColor: cssVar("--muted") },
    grid: { vertLines: { visible: false }, horzLines: { color: cssVar("--border") } },
    rightPriceScale: { borderVisible: false },
    // A run may hold thousands of points: let fitContent show them all.
    timeScale: { borderVisible: false, timeVisible: true, minBarSpacing: 0.001 },
  });
}

const equity = points(data.equity);
const equityChart = chart(document.getElementById("equity-chart"));
equityChart.addSeries(AreaSeries, {
  lineColor: cssVar("--accent"), topColor: "rgba(68, 147, 248, .35)", bottomColor: "rgba(68, 147, 248, 0)", lineWidth: 2,
}).setData(equity);
equityChart.timeScale().fitContent();

let peak = -Infinity;
const drawdown = equity.map((p) => {
  peak = Math.max(peak, p.value);
  return { time: p.time, value: peak > 0 ? (p.value / peak - 1) * 100 : 0 };
});
const drawdownChart = chart(document.getElementById("drawdown-chart"));
drawdownChart.addSeries(AreaSeries, {
  lineColor: cssVar("--down"), topColor: "rgba(248, 81, 73, 0)", bottomColor: "rgba(248, 81, 73, .35)", lineWidth: 1,
  priceFormat: { type: "custom", formatter: (v) => `${v.toFixed(1)} %` },
}).setData(drawdown);
drawdownChart.timeScale().fitContent();

const prices = points(data.prices);
const priceChart = chart(document.getElementById("price-chart"));
const line = priceChart.addSeries(LineSeries, { color: cssVar("--text"), lineWidth: 1.5 });
line.setData(prices);
const markers = data.fills.map((f) => ({
  time: Math.floor(f.t / 1000),
  position: f.side === "buy" ? "belowBar" : "aboveBar",
  color: f.side === "buy" ? cssVar("--up") : cssVar("--down"),
  shape: f.side === "buy" ? "arrowUp" : "arrowDown",
  // With many fills the words would cover the price: arrows alone, the table has the rest.
  text: data.fills.length <= 20 ? `${f.side} ${f.quantity} @ ${f.price}` : "",
}));
// Markers must sit on the series' times: each at the first price point at or after it.
const times = prices.map((p) => p.time);
for (const m of markers) {
  let lo = 0, hi = times.length - 1;
  while (lo < hi) { const mid = (lo + hi) >> 1; if (times[mid] < m.time) lo = mid + 1; else hi = mid; }
  if (times.length) m.time = times[lo];
}
markers.sort((a, b) => a.time - b.time);
createSeriesMarkers(line, markers);
priceChart.timeScale().fitContent();
document.getElementById("price-chart").dataset.markers = String(markers.length);
document.getElementById("equity-chart").dataset.points = String(equity.length);
