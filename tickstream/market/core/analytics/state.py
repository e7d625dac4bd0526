"""The market state of one symbol: quote, candles per interval and their indicators."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Final

from tickstream.market.core.analytics.candles import Candle, CandleBuilder
from tickstream.market.core.analytics.indicators import Bar, Indicator, IndicatorSpec
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.analytics.quote import Quote

Values = dict[str, float | None]


def candle_bar(candle: Candle) -> Bar:
    """The float view of a candle that indicators consume."""
    return Bar(
        candle.start,
        float(candle.open),
        float(candle.high),
        float(candle.low),
        float(candle.close),
        float(candle.volume),
    )


@dataclass(slots=True)
class ClosedCandle:
    """A candle that just closed, with its indicators' final values at it (read-only by
    type, like `Tick`: one is made for every close of every interval)."""

    interval: Final[Interval]
    candle: Final[Candle]
    values: Final[Values]


class CandleSeries:
    """Candles of one interval and the indicators computed on them."""

    __slots__ = ("interval", "builder", "indicators", "last_values", "_names")

    def __init__(self, interval: Interval, specs: Sequence[IndicatorSpec]) -> None:
        self.interval = interval
        self.builder = CandleBuilder(interval)
        self.indicators: list[Indicator] = [spec.build() for spec in specs]
        self.last_values: Values = {}
        self._names = [name for i in self.indicators for name in i.names]

    def fold(self, candle: Candle) -> ClosedCandle:
        """Feed a closed candle to the indicators."""
        bar = candle_bar(candle)
        self.last_values = dict(
            zip(self._names, [v for i in self.indicators for v in i.update(bar)], strict=True)
        )
        return ClosedCandle(self.interval, candle, self.last_values)

    def restore(self, history: Sequence[Candle], forming: Candle | None) -> None:
        """Warm up from stored candles: fold closed ones into the indicators (oldest first)
        and continue the forming one, as if the ticks behind them had just been seen."""
        for candle in history:
            self.fold(candle)
        if forming is not None:
            self.builder.forming = forming
            self.builder.next_start = forming.start + self.interval.ns

    def provisional(self) -> Values:
        """Indicator values as if the forming candle closed now (empty without one)."""
        forming = self.builder.forming
        if forming is None:
            return {}
        # (on the publishing path, several times a second per symbol: one flat pass)
        bar = candle_bar(forming)
        return dict(
            zip(self._names, [v for i in self.indicators for v in i.peek(bar)], strict=True)
        )


class SymbolState:
    """Everything tickstream derives from one symbol's ticks; O(1) work per tick."""

    __slots__ = ("symbol", "quote", "series", "last_ts")

    def __init__(
        self,
        symbol: str,
        intervals: Sequence[Interval],
        specs: Sequence[IndicatorSpec],
        reference: Decimal | None = None,
    ) -> None:
        self.symbol = symbol
        self.quote = Quote(symbol, prev_close=reference)
        self.series = [CandleSeries(interval, specs) for interval in intervals]
        self.last_ts = 0

    def apply(self, ts: int, price: Decimal, size: Decimal) -> list[ClosedCandle]:
        """Fold a trade in; a trade earlier than the last one counts at the last one's time."""
        if ts < self.last_ts:
            ts = self.last_ts
        else:
            self.last_ts = ts
        self.quote.update(ts, price, size)
        closed: list[ClosedCandle] = []
        for series in self.series:
            builder = series.builder
            candle = builder.forming
            if candle is not None and ts < builder.next_start:
                # CandleBuilder.update's usual case, inline: six calls a tick were a fifth
                # of the state update's cost.
                if price > candle.high:
                    candle.high = price
                elif price < candle.low:
                    candle.low = price
                candle.close = price
                candle.volume += size
                candle.trades += 1
            else:
                candle = builder.update(ts, price, size)
                if candle is not None:
                    closed.append(series.fold(candle))
        return closed

    def finish(self) -> list[ClosedCandle]:
        """Close every forming candle (end of a finite replay)."""
        closed: list[ClosedCandle] = []
        for series in self.series:
            candle = series.builder.forming
            if candle is not None:
                series.builder.forming = None
                closed.append(series.fold(candle))
        return closed

    def series_for(self, interval_name: str) -> CandleSeries | None:
        for series in self.series:
            if series.interval.name == interval_name:
                return series
        return None
