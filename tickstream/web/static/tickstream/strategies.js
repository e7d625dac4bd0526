// Hosted strategies: add one, start and stop it, see its state and its run.
import { api, describeError } from "./api.js";

const $ = (s) => document.querySelector(s);
const body = $("#hosted tbody");

function params(text) {
  const out = {};
  for (const pair of text.trim().split(/\s+/).filter(Boolean)) {
    const [key, ...rest] = pair.split("=");
    out[key] = rest.join("=");
  }
  return out;
}

function row(h) {
  const tr = document.createElement("tr");
  tr.dataset.id = h.id;
  const cells = [h.name, h.source, h.symbol];
  for (const text of cells) {
    const td = document.createElement("td");
    td.textContent = text;
    tr.append(td);
  }
  const state = document.createElement("td");
  state.className = h.state === "failed" ? "down" : h.state === "running" ? "up" : "";
  state.textContent = h.wanted && h.state !== "running" ? "starting…" : !h.wanted && h.state === "running" ? "stopping…" : h.state;
  if (h.error) state.title = h.error;
  tr.append(state);
  const run = document.createElement("td");
  if (h.run) {
    const a = document.createElement("a");
    a.href = `/strategies/runs/${h.run}/`;
    a.textContent = `#${h.run}`;
    run.append(a);
  }
  if (h.error) {
    const p = document.createElement("div");
    p.className = "note down";
    p.textContent = h.error;
    run.append(p);
  }
  tr.append(run);
  const actions = document.createElement("td");
  const toggle = document.createElement("button");
  toggle.type = "button";
  toggle.className = "small";
  toggle.textContent = h.wanted ? "Stop" : "Start";
  toggle.addEventListener("click", async () => {
    await api(`/api/strategies/hosted/${h.id}/${h.wanted ? "stop" : "start"}/`, { method: "POST" });
    refresh();
  });
  actions.append(toggle);
  if (!h.wanted && h.state !== "running") {
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "small";
    remove.textContent = "Remove";
    remove.addEventListener("click", async () => {
      await api(`/api/strategies/hosted/${h.id}/`, { method: "DELETE" });
      refresh();
    });
    actions.append(" ", remove);
  }
  tr.append(actions);
  return tr;
}

async function refresh() {
  const hosted = await api("/api/strategies/hosted/");
  body.replaceChildren(...hosted.map(row));
  $("#hosted-empty").hidden = hosted.length > 0;
}

$("#hosted-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const error = $("#hosted-error");
  error.hidden = true;
  try {
    await api("/api/strategies/hosted/", {
      method: "POST",
      body: {
        name: form.elements.name.value, source: form.elements.source.value,
        symbol: form.elements.symbol.value, interval: form.elements.interval.value,
        params: params(form.elements.params.value),
      },
    });
    form.elements.name.value = "";
    refresh();
  } catch (e) {
    error.textContent = describeError(e);
    error.hidden = false;
  }
});

refresh();
setInterval(refresh, 2000);
