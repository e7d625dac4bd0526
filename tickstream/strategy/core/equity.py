"""An account's equity over a run (pure): cash plus holdings at the last prices, kept
after every fill and as the last value of each period while something is held. The period
grows with the run as the report's sampling does (`report.sample`): a minute while the run
spans less than 10 hours, an hour below 10 days, then a day. So a long run keeps a point
a day, not one a trade, and the figures lose nothing. The same in a backtest and in paper
trading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from tickstream.market.core.ticks import NS_PER_S

MINUTE_NS = 60 * NS_PER_S
HOUR_NS = 60 * MINUTE_NS
DAY_NS = 24 * HOUR_NS


def value_of(
    amounts: Iterable[tuple[str, Decimal]],
    cash: frozenset[str] | set[str],
    price: Callable[[str], Decimal | None],
) -> Decimal:
    """What `(currency, amount)` pairs are worth in the cash currency: an asset at
    `price(asset)`, one with no price yet at nothing. O(currencies)."""
    total = Decimal(0)
    for currency, amount in amounts:
        if currency in cash:
            total += amount
        elif amount and (p := price(currency)) is not None:
            total += amount * p
    return total


def period_for(span_ns: int) -> int:
    """The sampling period of a run that spans `span_ns` (the report's)."""
    return DAY_NS if span_ns >= 10 * DAY_NS else HOUR_NS if span_ns >= 10 * HOUR_NS else MINUTE_NS


class EquityCurve:
    """Points `(ns, equity)`: one after each fill (kept), else the last of each period.
    O(1) amortised per mark: the points are thinned twice at most, when the period grows."""

    def __init__(self) -> None:
        self.points: list[tuple[int, Decimal]] = []
        self._kept: set[int] = set()  # indexes of the fills' points
        self._first: int | None = None
        self.every_ns = MINUTE_NS

    def mark(self, now: int, value: Decimal, *, keep: bool) -> None:
        """The equity at `now`; `keep`: a fill's (never replaced)."""
        if self._first is None:
            self._first = now
            keep = True  # the first point stays
        period = period_for(now - self._first)
        if period != self.every_ns:
            self._thin(period)
        points = self.points
        last = len(points) - 1
        if (
            not keep
            and points
            and last not in self._kept
            and points[-1][0] // self.every_ns == now // self.every_ns
        ):
            points[-1] = (now, value)
            return
        points.append((now, value))
        if keep:
            self._kept.add(len(points) - 1)

    def _thin(self, period: int) -> None:
        """Keep the fills' points and the last point of each longer period."""
        kept_points: list[tuple[int, Decimal]] = []
        kept: set[int] = set()
        for i, (ns, value) in enumerate(self.points):
            keep = i in self._kept
            if (
                not keep
                and kept_points
                and (len(kept_points) - 1) not in kept
                and kept_points[-1][0] // period == ns // period
            ):
                kept_points[-1] = (ns, value)
                continue
            kept_points.append((ns, value))
            if keep:
                kept.add(len(kept_points) - 1)
        self.points[:] = kept_points
        self._kept = kept
        self.every_ns = period
