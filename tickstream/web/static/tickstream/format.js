// Number and time formatting for the pages: prices at their instrument's tick size, changes
// with an arrow and a sign (never colour alone), times in the viewer's time zone.

/** Decimal places of a tick size given as a decimal string ("0.01" -> 2, "1" -> 0). */
export function decimalsOf(tickSize) {
  const text = String(tickSize ?? "0.01");
  const dot = text.indexOf(".");
  return dot < 0 ? 0 : text.length - dot - 1;
}

const numberFormats = new Map();
function numberFormat(decimals) {
  let format = numberFormats.get(decimals);
  if (!format) {
    format = new Intl.NumberFormat(undefined, { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
    numberFormats.set(decimals, format);
  }
  return format;
}

/** A price (decimal string from the server) at `decimals` places, grouped for the locale.
 * Prices arrive as strings so they are never rounded through a float on the server; on the
 * page they are only displayed. */
export function formatPrice(value, decimals) {
  if (value === null || value === undefined || value === "") return "–";
  const number = Number(value);
  return Number.isFinite(number) ? numberFormat(decimals).format(number) : String(value);
}

export function direction(change) {
  const number = Number(change);
  if (!Number.isFinite(number) || number === 0) return "flat";
  return number > 0 ? "up" : "down";
}

const ARROWS = { up: "▲", down: "▼", flat: "■" };

/** "▲ +1.25" / "▼ −0.40": the direction is in the arrow and the sign, not only the colour. */
export function formatChange(change, decimals) {
  const dir = direction(change);
  if (change === null || change === undefined) return "–";
  const magnitude = formatPrice(Math.abs(Number(change)), decimals);
  const sign = dir === "up" ? "+" : dir === "down" ? "−" : "";
  return `${ARROWS[dir]} ${sign}${magnitude}`;
}

export function formatPercent(pct) {
  if (pct === null || pct === undefined) return "–";
  const number = Number(pct);
  const sign = number > 0 ? "+" : number < 0 ? "−" : "";
  return `${sign}${numberFormat(2).format(Math.abs(number))}%`;
}

const timeFormat = new Intl.DateTimeFormat(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
const dateTimeFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
});

/** An ISO time or epoch ms as the viewer's local time. */
export function formatTime(value, { withDate = false } = {}) {
  if (value === null || value === undefined) return "–";
  const date = new Date(value);
  if (Number.isNaN(date.getTime())) return String(value);
  return (withDate ? dateTimeFormat : timeFormat).format(date);
}

const dayFormat = new Intl.DateTimeFormat(undefined, {
  year: "numeric", month: "short", day: "numeric", weekday: "short", timeZone: "UTC",
});

/** A daily candle's day (epoch ms of its UTC start), as a date: never a time of day. */
export function formatDay(value) {
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? "–" : dayFormat.format(date);
}

const volumeFormat = new Intl.NumberFormat(undefined, { notation: "compact", maximumFractionDigits: 2 });

export function formatVolume(value) {
  const number = Number(value);
  return Number.isFinite(number) ? volumeFormat.format(number) : "–";
}

/** The time axis' labels of a chart in the viewer's clock (Lightweight Charts labels in
 * UTC otherwise): every chart of the app reads the same time as the rest of the page. */
export function chartTickMark(time, type) {
  const date = new Date(time * 1000);
  switch (type) {
    case 0:
      return String(date.getFullYear());
    case 1:
      return date.toLocaleDateString(undefined, { month: "short" });
    case 2:
      return date.toLocaleDateString(undefined, { day: "numeric", month: "short" });
    case 4:
      return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit", second: "2-digit" });
    default:
      return date.toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  }
}
