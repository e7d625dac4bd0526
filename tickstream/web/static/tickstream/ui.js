// What every page shares: the theme switch, the connection badge, the instruments list.

const STATE_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline",
};

/** Show a socket's state in the header badge (text, not colour alone). */
export function showConnection(state) {
  const badge = document.getElementById("connection-state");
  if (!badge) return;
  badge.hidden = false; // pages without a live connection never show it
  badge.dataset.state = state;
  badge.textContent = STATE_TEXT[state] || state;
  badge.title = state === "live" ? "Receiving live prices" : "Not receiving live prices; retrying";
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
    document.dispatchEvent(new CustomEvent("themechange", { detail: next }));
  });
}

/** The instruments the page was rendered with (symbol, name, kind, tick_size, …). */
export function instruments() {
  const node = document.getElementById("instruments-data");
  return node ? JSON.parse(node.textContent) : [];
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

setupThemeToggle();
