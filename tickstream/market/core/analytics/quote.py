"""The session quote of one instrument."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Context, Decimal

DAY_NS = 86_400 * 1_000_000_000
_ZERO = Decimal(0)
_PCT = Decimal("0.0001")
# Wide enough for any change in percent of prices within the tick limits (up to 1e24 %,
# with four decimals), so rounding it can never raise.
_PCT_CONTEXT = Context(prec=40)


@dataclass(slots=True)
class Quote:
    """Last price and session statistics; a session is a UTC day.

    `prev_close` is the last price of the previous session (or the reference price the
    state was started with), so `change` is what a ticker shows: last against prior close.
    """

    symbol: str
    last: Decimal | None = None
    open: Decimal | None = None
    high: Decimal | None = None
    low: Decimal | None = None
    volume: Decimal = _ZERO
    turnover: Decimal = _ZERO  # sum of price * size, for the VWAP
    trades: int = 0
    prev_close: Decimal | None = None
    ts: int = 0
    session_day: int = -1
    source: str = ""  # the feed of the last trade ("" before any)

    def update(self, ts: int, price: Decimal, size: Decimal) -> None:
        """Fold a trade into the quote, starting a new session at a new UTC day."""
        day = ts // DAY_NS
        if day != self.session_day:
            if self.last is not None:
                self.prev_close = self.last
            self.session_day = day
            self.open = self.high = self.low = price
            self.volume = _ZERO
            self.turnover = _ZERO
            self.trades = 0
        elif price > self.high:  # type: ignore[operator]
            self.high = price
        elif price < self.low:  # type: ignore[operator]
            self.low = price
        self.last = price
        self.volume += size
        self.turnover += price * size
        self.trades += 1
        self.ts = ts

    @property
    def reference(self) -> Decimal | None:
        return self.prev_close if self.prev_close is not None else self.open

    @property
    def change(self) -> Decimal | None:
        ref = self.reference
        return None if ref is None or self.last is None else self.last - ref

    @property
    def change_pct(self) -> Decimal | None:
        ref, change = self.reference, self.change
        if ref is None or change is None or ref == 0:
            return None
        return percent_change(change, ref)

    @property
    def vwap(self) -> Decimal | None:
        if self.volume == 0 or self.last is None:
            return None
        return self.turnover / self.volume


def percent_change(change: Decimal, reference: Decimal) -> Decimal:
    """`change` in percent of `reference`, to four decimals."""
    return (change * 100 / reference).quantize(_PCT, context=_PCT_CONTEXT)
