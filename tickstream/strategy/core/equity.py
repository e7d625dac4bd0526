"""An account's equity over a run (pure): cash plus holdings at the last prices, kept
after every fill and as the last value of each period while something is held, so a long
run keeps a point a period, not one a trade. The same in a backtest and in paper trading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal

from tickstream.market.core.ticks import NS_PER_S


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


class EquityCurve:
    """Points `(ns, equity)`: one after each fill (kept), else the last of each period."""

    def __init__(self, every_s: int = 60) -> None:
        self.points: list[tuple[int, Decimal]] = []
        self.every_ns = max(1, every_s) * NS_PER_S
        self._bucket = -1
        self._kept = False

    def mark(self, now: int, value: Decimal, *, keep: bool) -> None:
        """The equity at `now`; `keep`: a fill's (never replaced)."""
        points, bucket = self.points, now // self.every_ns
        if keep or not points or bucket != self._bucket or self._kept:
            points.append((now, value))
            self._bucket, self._kept = bucket, keep or not points[:-1]
        else:
            points[-1] = (now, value)
