// Exact decimal arithmetic for what the pages derive from decimal strings (a holding's
// market value = quantity x price): BigInt with a scale, never a float, rounded to cents
// half to even as the server rounds.

/** "12.345" -> {n: 12345n, s: 3} */
export function parse(text) {
  const value = String(text).trim();
  const negative = value.startsWith("-");
  const [whole, fraction = ""] = (negative ? value.slice(1) : value).split(".");
  const n = BigInt(whole + fraction || "0");
  return { n: negative ? -n : n, s: fraction.length };
}

function aligned(a, b) {
  const s = Math.max(a.s, b.s);
  return [a.n * 10n ** BigInt(s - a.s), b.n * 10n ** BigInt(s - b.s), s];
}

export function mul(a, b) {
  return { n: a.n * b.n, s: a.s + b.s };
}

export function sub(a, b) {
  const [x, y, s] = aligned(a, b);
  return { n: x - y, s };
}

export function add(a, b) {
  const [x, y, s] = aligned(a, b);
  return { n: x + y, s };
}

/** The value at two decimals, half to even, as text ("-0.00" never). */
export function cents(a) {
  let n = a.n;
  if (a.s < 2) n *= 10n ** BigInt(2 - a.s);
  else if (a.s > 2) {
    const d = 10n ** BigInt(a.s - 2);
    const negative = n < 0n;
    const m = negative ? -n : n;
    let q = m / d;
    const r = m % d;
    if (r * 2n > d || (r * 2n === d && q % 2n === 1n)) q += 1n;
    n = negative ? -q : q;
  }
  const negative = n < 0n;
  const digits = (negative ? -n : n).toString().padStart(3, "0");
  const text = `${digits.slice(0, -2)}.${digits.slice(-2)}`;
  return negative && text !== "0.00" ? `-${text}` : text;
}

/** part / whole x 100 for display (a ratio, not money), two decimals; null for 0. */
export function percent(part, whole) {
  if (whole.n === 0n) return null;
  const ratio = Number(part.n) / 10 ** part.s / (Number(whole.n) / 10 ** whole.s);
  return (ratio * 100).toFixed(2);
}

/** A valuation after a live update: a whole valuation as it is; marks (prices with
 * their day references, and totals, for one basis version) applied to `whole`. Returns
 * null when the marks are for another basis: the page must ask for the channel again. */
export function applyMarks(whole, update) {
  if (update.holdings) return update;
  if (!whole || update.version !== whole.version) return null;
  // A holding in another currency: its value at that currency's rate now, its day
  // against its reference price at the reference rate.
  const rates = update.rates || {};
  const one = { n: 1n, s: 0 };
  const rateOf = (h, which) => (rates[h.currency] ? parse(rates[h.currency][which]) : one);
  const values = new Map();
  let total = { n: 0n, s: 0 };
  for (const h of whole.holdings) {
    const mark = update.prices[h.symbol];
    if (!mark) continue;
    const value = mul(mul(parse(h.quantity), parse(mark[0])), rateOf(h, 0));
    values.set(h.symbol, value);
    total = add(total, value);
  }
  const holdings = whole.holdings.map((h) => {
    const mark = update.prices[h.symbol];
    if (!mark) return h;
    const quantity = parse(h.quantity);
    const cost = parse(h.cost);
    const value = values.get(h.symbol);
    const gain = sub(value, cost);
    const day = mark[1] === null ? { n: 0n, s: 0 } : sub(value, mul(mul(quantity, parse(mark[1])), rateOf(h, 1)));
    const out = {
      ...h,
      price: mark[0],
      market_value: cents(value),
      unrealized_pnl: cents(gain),
      unrealized_pnl_pct: percent(gain, cost),
      day_change: cents(day),
      allocation_pct: percent(value, total),
    };
    if (rates[h.currency]) {
      const rate = rateOf(h, 0);
      const own = parse(h.own_cost);
      out.rate = rates[h.currency][0];
      out.price_effect = cents(mul(sub(mul(quantity, parse(mark[0])), own), rate));
      out.currency_effect = cents(sub(mul(own, rate), cost));
    }
    return out;
  });
  const next = { ...whole, as_of: update.as_of, holdings, totals: { ...whole.totals, ...update.totals } };
  if (update.rates) next.rates = update.rates;
  return next;
}
