// What every page shares: the theme switch, the connection badge, the instruments list.
import { formatTime } from "./format.js";

const STATE_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline",
  "signed-out": "signed out",
};

const STATE_TITLE = {
  live: "Receiving live prices",
  "signed-out": "You were signed out (a logout, a password change or a new API token): sign in again and reload",
};

let pausedAt = null; // when the page stopped being live

/** Show a socket's state in the header badge (text, not colour alone). Once the page has
 * been live, losing the connection also marks the numbers on screen stale (dimmed, by
 * `html[data-connection]` in app.css) and says since when, above the page. */
export function showConnection(state) {
  const badge = document.getElementById("connection-state");
  if (!badge) return;
  badge.hidden = false; // pages without a live connection never show it
  badge.dataset.state = state;
  badge.textContent = STATE_TEXT[state] || state;
  badge.title = STATE_TITLE[state] || "Not receiving live prices; retrying";
  const root = document.documentElement;
  if (state === "live") pausedAt = null;
  else if (root.dataset.connection === "live") pausedAt = new Date();
  root.dataset.connection = pausedAt || state === "live" ? state : "connecting";
  showStaleNote(state);
}

function showStaleNote(state) {
  let note = document.getElementById("stale-note");
  if (!pausedAt) {
    if (note) note.hidden = true;
    return;
  }
  if (!note) {
    note = document.createElement("p");
    note.id = "stale-note";
    note.className = "stale-note";
    note.setAttribute("role", "status");
    document.querySelector("main")?.prepend(note);
  }
  note.hidden = false;
  const since = formatTime(pausedAt);
  if (state === "signed-out") {
    note.replaceChildren(`You were signed out: the numbers below stopped at ${since}. `);
    const link = document.createElement("a");
    link.href = `/accounts/login/?next=${encodeURIComponent(location.pathname + location.search)}`;
    link.textContent = "Sign in again";
    note.append(link, " to see live prices.");
  } else {
    note.textContent = `Not live (${STATE_TEXT[state] || state}): the numbers below are from ${since}.`;
  }
}

export function setupThemeToggle() {
  const button = document.getElementById("theme-toggle");
  if (!button) return;
  const label = () => {
    const dark = document.documentElement.dataset.theme === "dark";
    button.textContent = dark ? "☀ Light" : "☾ Dark";
    button.setAttribute("aria-label", dark ? "Switch to the light theme" : "Switch to the dark theme");
  };
  label();
  button.addEventListener("click", () => {
    const next = document.documentElement.dataset.theme === "dark" ? "light" : "dark";
    document.documentElement.dataset.theme = next;
    try {
      localStorage.setItem("tickstream-theme", next);
    } catch (error) {
      /* private mode: the choice lasts for this page */
    }
    label();
    cssVars.clear();
    document.dispatchEvent(new CustomEvent("themechange", { detail: next }));
  });
}

/** The instruments the page was rendered with (symbol, name, kind, tick_size, …). */
export function instruments() {
  const node = document.getElementById("instruments-data");
  return node ? JSON.parse(node.textContent) : [];
}

const cssVars = new Map();

/** A theme colour (custom property), read once per theme: reading computed styles while
 * the DOM changes forces a style recalculation, far too dear per update. */
export function cssVar(name) {
  let value = cssVars.get(name);
  if (value === undefined) {
    value = getComputedStyle(document.documentElement).getPropertyValue(name).trim();
    cssVars.set(name, value);
  }
  return value;
}

const calm = matchMedia("(prefers-reduced-motion: reduce)");

/** A short up/down highlight behind a value that just moved. The Web Animations API
 * restarts it without forcing a layout (class toggling needs a reflow to restart). */
export function flash(element, up) {
  if (calm.matches || document.hidden) return;
  element.animate(
    [{ backgroundColor: cssVar(up ? "--up-bg" : "--down-bg") }, { backgroundColor: "transparent" }],
    { duration: 600, easing: "ease-out" },
  );
}

setupThemeToggle();

/** Tables marked `cards-on-phone` become one card per row on a phone (app.css): each cell
 * carries its column's name in `data-label`, set here for every row the page draws. */
function labelCells(table) {
  const names = [...table.querySelectorAll("thead th")].map((th) => th.textContent.trim());
  for (const row of table.tBodies[0]?.rows || []) {
    [...row.cells].forEach((td, i) => {
      if (names[i] && td.dataset.label !== names[i]) td.dataset.label = names[i];
    });
  }
}

for (const table of document.querySelectorAll("table.cards-on-phone")) {
  labelCells(table);
  if (table.tBodies[0]) {
    new MutationObserver(() => labelCells(table)).observe(table.tBodies[0], { childList: true, subtree: false });
  }
}
