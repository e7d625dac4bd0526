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
