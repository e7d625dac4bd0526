"""The figures of a run (pure), each defined once here and in `docs/strategies.md`.

Returns are those of the equity (cash plus holdings at the last price) sampled at the end
of each period: a day when the run spans at least 10 days, an hour when it spans at least
10 hours, else a minute; the first sample is the starting cash. Annualised figures use the
periods a year has for the kind of market: 252 trading days (6.5 hours each) for stocks,
365 days of 24 hours for crypto.

- total return: end equity / start equity - 1.
- annualised return: (1 + total return) ^ (periods a year / periods in the run) - 1.
- volatility: the sample standard deviation of the period returns x sqrt(periods a year).
- Sharpe: mean period return / its sample standard deviation x sqrt(periods a year)
  (no risk-free rate).
- Sortino: mean period return x periods a year / (sqrt(mean of min(return, 0)^2) x
  sqrt(periods a year)).
- max drawdown: the largest fall of the sampled equity from its running peak, as a share
  of the peak; its duration: from that peak to the first sample back at or above it (or
  to the end, still under water).
- exposure: the share of the run's time (first trade to last) with a position open.
- turnover: the value traded (buys and sells) / the mean sampled equity.
- fees: their sum, in the cash currency.
- trades: round trips of one instrument, from a flat position back to flat; a round trip
  wins when what it sold, less what it bought and every fee of its fills, is above 0.
  Win rate: wins / round trips; average win and loss: the mean result of each kind.

A figure that cannot be computed (no returns, a standard deviation of 0, no round trip)
is None, shown as "—". Ratios are floats (statistics, not money); money is Decimal.

Cost: O(equity points + fills).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from tickstream.market.core.ticks import NS_PER_S
from tickstream.strategy.core.equity import DAY_NS, HOUR_NS, MINUTE_NS, period_for  # noqa: E402
from tickstream.trading.core.events import Fill
from tickstream.trading.core.orders import Side

# Periods a year, by sampling period and kind of market.
PERIODS_PER_YEAR = {
    ("stock", DAY_NS): 252.0,
    ("stock", HOUR_NS): 252 * 6.5,
    ("stock", MINUTE_NS): 252 * 6.5 * 60,
    ("crypto", DAY_NS): 365.0,
    ("crypto", HOUR_NS): 365 * 24.0,
    ("crypto", MINUTE_NS): 365 * 24 * 60.0,
}


@dataclass(frozen=True, slots=True)
class RoundTrip:
    symbol: str
    opened_ns: int
    closed_ns: int
    result: Decimal  # sold - bought - fees, in the cash currency


@dataclass(frozen=True, slots=True)
class Figures:
    start: Decimal
    end: Decimal
    period: str  # "1d", "1h" or "1m": the sampling of the returns
    total_return: float | None
    annualised_return: float | None
    volatility: float | None
    sharpe: float | None
    sortino: float | None
    max_drawdown: float | None
    drawdown_s: int | None
    exposure: float | None
    turnover: float | None
    fees: Decimal
    fills: int
    trades: int
    win_rate: float | None
    average_win: Decimal | None
    average_loss: Decimal | None

    def rows(self, currency: str) -> list[tuple[str, str]]:
        """The figures as (label, text), "—" where there is none."""

        pct, num, money = percent_text, ratio_text, money_text
        duration = duration_text(self.drawdown_s)
        return [
            (f"start ({currency})", money(self.start)),
            (f"end ({currency})", money(self.end)),
            ("total return", pct(self.total_return)),
            ("annualised return", pct(self.annualised_return)),
            (f"volatility (annualised, {self.period} returns)", pct(self.volatility)),
            ("Sharpe", num(self.sharpe)),
            ("Sortino", num(self.sortino)),
            ("max drawdown", pct(self.max_drawdown)),
            ("max drawdown duration", duration),
            ("exposure", pct(self.exposure)),
            ("turnover", num(self.turnover)),
            (f"fees ({currency})", money(self.fees)),
            ("fills", f"{self.fills:,}"),
            ("round trips", f"{self.trades:,}"),
            ("win rate", pct(self.win_rate)),
            (f"average win ({currency})", money(self.average_win)),
            (f"average loss ({currency})", money(self.average_loss)),
        ]


def percent_text(x: float | None) -> str:
    """A share as a percentage, "—" where there is none (the command line's and the
    report page's)."""
    return "—" if x is None else f"{x * 100:.2f} %"


def ratio_text(x: float | None) -> str:
    return "—" if x is None else f"{x:.2f}"


def money_text(x: Decimal | str | None) -> str:
    """An amount (a Decimal, or one stored as text) to the cent, with separators."""
    return "—" if x is None else f"{Decimal(x):,.2f}"


def duration_text(seconds: int | None) -> str:
    if seconds is None:
        return "—"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    return f"{days} d {hours} h" if days else f"{hours} h {rest // 60} min"


def sample(
    equity: Sequence[tuple[int, Decimal]], start: Decimal, first_ns: int, last_ns: int
) -> tuple[int, list[tuple[int, Decimal]]]:
    """(period in ns, (time, equity) at the end of each period), the start first."""
    period = period_for(last_ns - first_ns)
    values = [(first_ns, start)]
    bucket = None
    for ns, value in equity:
        b = ns // period
        if b == bucket:
            values[-1] = (ns, value)
        else:
            values.append((ns, value))
            bucket = b
    return period, values


def returns_of(values: Sequence[Decimal]) -> list[float]:
    return [float(b / a - 1) if a else math.nan for a, b in zip(values, values[1:], strict=False)]


def round_trips(fills: Sequence[tuple[str, Fill, int]]) -> list[RoundTrip]:
    """Flat to flat, per instrument, in fill order. O(fills)."""
    position: dict[str, Decimal] = {}
    cash: dict[str, Decimal] = {}
    opened: dict[str, int] = {}
    trips = []
    for _, f, ns in fills:
        held = position.get(f.symbol, Decimal(0))
        if held == 0:
            opened[f.symbol], cash[f.symbol] = ns, Decimal(0)
        value = f.price * f.quantity
        if f.side is Side.BUY:
            held += f.quantity
            cash[f.symbol] -= value + f.fee
        else:
            held -= f.quantity
            cash[f.symbol] += value - f.fee
        position[f.symbol] = held
        if held == 0:
            trips.append(RoundTrip(f.symbol, opened[f.symbol], ns, cash[f.symbol]))
    return trips


def exposure_of(
    fills: Sequence[tuple[str, Fill, int]], first_ns: int, last_ns: int
) -> float | None:
    """The share of [first_ns, last_ns] with any position open."""
    if last_ns <= first_ns:
        return None
    position: dict[str, Decimal] = {}
    open_since: int | None = None
    exposed = 0
    for _, f, ns in fills:
        was_open = any(position.values())
        held = position.get(f.symbol, Decimal(0))
        position[f.symbol] = held + (f.quantity if f.side is Side.BUY else -f.quantity)
        now_open = any(position.values())
        if now_open and not was_open:
            open_since = ns
        elif was_open and not now_open and open_since is not None:
            exposed += ns - open_since
            open_since = None
    if open_since is not None:
        exposed += last_ns - open_since
    return exposed / (last_ns - first_ns)


def drawdown(points: Sequence[tuple[int, Decimal]]) -> tuple[float | None, int | None]:
    """(the max drawdown as a negative share, its duration in seconds) of (time, equity)
    samples."""
    if len(points) < 2:
        return None, None
    peak_at, worst, worst_peak = 0, 0.0, 0
    for i, (_, v) in enumerate(points):
        peak = points[peak_at][1]
        if v >= peak:
            peak_at = i
        elif peak > 0 and (fall := float(v / peak - 1)) < worst:
            worst, worst_peak = fall, peak_at
    if worst == 0:
        return 0.0, 0
    top = points[worst_peak][1]
    back = next((i for i in range(worst_peak + 1, len(points)) if points[i][1] >= top), None)
    recovered = points[-1 if back is None else back][0]
    return worst, (recovered - points[worst_peak][0]) // NS_PER_S


def figures(
    *,
    equity: Sequence[tuple[int, Decimal]],
    fills: Sequence[tuple[str, Fill, int]],
    start: Decimal,
    first_ns: int | None,
    last_ns: int | None,
    market: str = "stock",
) -> Figures:
    """Every figure of a run."""
    first, last = first_ns or 0, last_ns or 0
    period, points = sample(equity, start, first, last)
    values = [v for _, v in points]
    end = values[-1]
    returns = [r for r in returns_of(values) if not math.isnan(r)]
    per_year = PERIODS_PER_YEAR[("crypto" if market == "crypto" else "stock", period)]
    total = float(end / start - 1) if start else None
    annual = vol = sharpe = sortino = None
    if returns and total is not None and total > -1:
        annual = (1 + total) ** (per_year / len(returns)) - 1
    if len(returns) >= 2:
        mean = sum(returns) / len(returns)
        sd = math.sqrt(sum((r - mean) ** 2 for r in returns) / (len(returns) - 1))
        vol = sd * math.sqrt(per_year)
        sharpe = mean / sd * math.sqrt(per_year) if sd > 0 else None
        downside = math.sqrt(sum(min(r, 0.0) ** 2 for r in returns) / len(returns))
        sortino = mean * per_year / (downside * math.sqrt(per_year)) if downside > 0 else None
    worst, duration = drawdown(points)
    traded = sum((f.price * f.quantity for _, f, _ in fills), Decimal(0))
    mean_equity = sum(values, Decimal(0)) / len(values)
    trips = round_trips(fills)
    wins = [t.result for t in trips if t.result > 0]
    losses = [t.result for t in trips if t.result <= 0]
    return Figures(
        start=start,
        end=end,
        period={DAY_NS: "1d", HOUR_NS: "1h", MINUTE_NS: "1m"}[period],
        total_return=total,
        annualised_return=annual,
        volatility=vol,
        sharpe=sharpe,
        sortino=sortino,
        max_drawdown=worst,
        drawdown_s=duration,
        exposure=exposure_of(fills, first, last),
        turnover=float(traded / mean_equity) if mean_equity else None,
        fees=sum((f.fee for _, f, _ in fills), Decimal(0)),
        fills=len(fills),
        trades=len(trips),
        win_rate=len(wins) / len(trips) if trips else None,
        average_win=sum(wins, Decimal(0)) / len(wins) if wins else None,
        average_loss=sum(losses, Decimal(0)) / len(losses) if losses else None,
    )


class TapeDigest:
    """The SHA-256 of the trades a run played (symbol, price, size, time, id, one line
    each): two runs on the same data have the same checksum. O(1) per trade."""

    def __init__(self) -> None:
        import hashlib

        self._hash = hashlib.sha256()

    def add(self, symbol: str, price: Decimal, size: Decimal, ts: int, trade: str | None) -> None:
        self._hash.update(f"{symbol},{price},{size},{ts},{trade or ''}\n".encode())

    def hexdigest(self) -> str:
        return self._hash.hexdigest()


def thin(points: Sequence[tuple[int, Decimal]], limit: int = 5_000) -> list[tuple[int, Decimal]]:
    """At most about `limit` points: the last of each of `limit` equal spans of time (the
    first point and every span's last kept), for a chart."""
    if len(points) <= limit:
        return list(points)
    first, last = points[0][0], points[-1][0]
    width = max(1, (last - first) // limit + 1)
    out = [points[0]]
    for ns, value in points[1:]:
        if (ns - first) // width == (out[-1][0] - first) // width and len(out) > 1:
            out[-1] = (ns, value)
        else:
            out.append((ns, value))
    return out
