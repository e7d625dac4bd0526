"""OHLCV candles built incrementally from ticks."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from tickstream.market.core.analytics.intervals import Interval


@dataclass(slots=True)
class Candle:
    """One OHLCV bar. `start` is the bucket start in ns; prices and volume are exact."""

    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int

    def copy(self) -> Candle:
        return Candle(
            self.start, self.open, self.high, self.low, self.close, self.volume, self.trades
        )


class CandleBuilder:
    """Folds ticks into candles of one interval; empty buckets produce no candle."""

    __slots__ = ("interval", "forming", "_size", "next_start")  # next_start: the forming's end

    def __init__(self, interval: Interval) -> None:
        self.interval = interval
        self.forming: Candle | None = None
        self._size = interval.ns
        self.next_start = 0

    def update(self, ts: int, price: Decimal, size: Decimal) -> Candle | None:
        """Add a trade at time `ts`; return the candle it closed, if it opened a new one.

        Times must not go backwards; the caller clamps late ticks to the last time seen.
        (`SymbolState.apply` has the first branch inline, on its hot path; a test holds the
        two to the same candles.)
        """
        candle = self.forming
        if candle is not None and ts < self.next_start:
            if price > candle.high:
                candle.high = price
            elif price < candle.low:
                candle.low = price
            candle.close = price
            candle.volume += size
            candle.trades += 1
            return None
        start = ts - ts % self._size
        self.forming = Candle(start, price, price, price, price, size, 1)
        self.next_start = start + self._size
        return candle

    def close_until(self, ts: int) -> Candle | None:
        """Close the forming candle if the time `ts` lies past its end (e.g. at end of data)."""
        candle = self.forming
        if candle is not None and ts >= self.next_start:
            self.forming = None
            return candle
        return None
