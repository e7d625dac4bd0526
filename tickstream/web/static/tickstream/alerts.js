// /alerts/: the user's alerts with their history; new alerts; the list refreshes when one
// fires (the `alerts` channel).
import { TickstreamClient } from "./tickstream.js";
import { api, describeError } from "./api.js";
import { formatTime } from "./format.js";
import { showConnection } from "./ui.js";

const $ = (selector) => document.querySelector(selector);
const LABELS = { above: "at or above", below: "at or below", move_up: "up % from open", move_down: "down % from open" };

function describe(a) {
  const relative = a.condition.startsWith("move");
  return `${LABELS[a.condition]} ${a.value}${relative ? "%" : ""}`;
}

async function load() {
  const alerts = await api("/api/alerts/");
  $("#alerts-empty").hidden = alerts.length > 0;
  $("#alerts tbody").replaceChildren(...alerts.map((a) => {
    const row = document.createElement("tr");
    row.dataset.id = a.id;
    const state = !a.active ? "paused" : a.armed === false ? "waiting to cross back" : "armed";
    const last = a.history[0];
    const cells = [a.symbol, describe(a) + (a.note ? ` · ${a.note}` : ""), state, String(a.fired_count),
      last ? `last at ${last.price}, ${formatTime(last.time, { withDate: true })}` : "never"];
    for (const text of cells) row.insertCell().textContent = text;
    row.cells[4].className = "alert-history";
    if (a.history.length > 1) row.cells[4].title = a.history.map((f) => `${f.price} at ${formatTime(f.time, { withDate: true })}`).join("\n");
    const actions = row.insertCell();
    actions.innerHTML = `<button type="button" class="small" data-action="toggle">${a.active ? "Pause" : "Resume"}</button> <button type="button" class="small" data-action="delete">Delete</button>`;
    actions.querySelector('[data-action="toggle"]').onclick = () => change(a.id, "PATCH", { active: !a.active });
    actions.querySelector('[data-action="delete"]').onclick = () => {
      if (confirm(`Delete the alert on ${a.symbol}? Its history goes with it.`)) change(a.id, "DELETE");
    };
    return row;
  }));
}

async function change(alertId, method, body) {
  await api(`/api/alerts/${alertId}/`, { method, body });
  await load();
}

$("#alert-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = $("#alert-error");
  const submit = form.querySelector("button[type=submit]");
  const sent = Object.fromEntries(new FormData(form));
  submit.disabled = true; // one alert at a time
  try {
    await api("/api/alerts/", { method: "POST", body: sent });
    // Cleared only if unchanged: what was typed while this one was sent is kept.
    if (form.value.value === sent.value) form.value.value = "";
    if (form.note.value === sent.note) form.note.value = "";
    error.hidden = true;
    await load();
  } catch (failure) {
    error.hidden = false;
    error.textContent = describeError(failure);
  } finally {
    submit.disabled = false;
  }
});

const button = $("#notify-permission");
if (!("Notification" in window) || Notification.permission !== "default") button.hidden = true;
button.onclick = async () => {
  await Notification.requestPermission();
  button.hidden = true;
};

const client = new TickstreamClient();
client.onstate = showConnection;
client.subscribe(["alerts"], ({ kind }) => kind === "update" && load());
load();

// --- what the new alert will do, against the price now ---

const form = $("#alert-form");
const lastPrices = new Map(); // symbol -> last price (text), for the chosen symbol
let watching = null;

function watch(symbol) {
  if (symbol === watching) return;
  if (watching) client.unsubscribe([`ticker:${watching}`], onQuote);
  watching = symbol;
  client.subscribe([`ticker:${symbol}`], onQuote);
}

function onQuote({ data }) {
  if (data && data.symbol && data.last) {
    lastPrices.set(data.symbol, data.last);
    hint();
  }
}

/** A level the price is already past is allowed (it waits for a crossing back, as every
 * alert re-arms), but it is said, so it is never a surprise that it does not fire. */
function hint() {
  const note = $("#alert-hint");
  const symbol = form.elements.namedItem("symbol").value;
  const condition = form.elements.namedItem("condition").value;
  const value = form.elements.namedItem("value").value.trim();
  const last = lastPrices.get(symbol);
  note.hidden = true;
  if (!last || !/^\d+(\.\d+)?$/.test(value) || condition.startsWith("move")) return;
  const passed = condition === "above" ? Number(last) >= Number(value) : Number(last) <= Number(value);
  if (!passed) return;
  note.hidden = false;
  note.textContent = condition === "above"
    ? `${symbol} is at ${last}, already at or above ${value}: this alert fires when the price has fallen below ${value} and comes back up.`
    : `${symbol} is at ${last}, already at or below ${value}: this alert fires when the price has risen above ${value} and comes back down.`;
}

form.elements.namedItem("symbol").addEventListener("change", (event) => watch(event.target.value));
form.addEventListener("input", hint);
watch(form.elements.namedItem("symbol").value);
