"""A venue's past candles as rows to store: ccxt's `fetch_ohlcv`, paged, with the numbers
kept as the venue's text (Alpaca's bars are read in `feeds/alpaca.py`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any

from tickstream.common.core import edge
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.writer import CandleRow

log = logging.getLogger(__name__)

PAGE = 1000  # candles per request (most venues' maximum)
Progress = Callable[[int, int, int], None]  # (candles so far, ms reached, ms to reach)


def venue_candle(symbol: str, interval: str, bar: Sequence[Any], trades: int = 0) -> CandleRow:
    """A closed candle from `[start ms, open, high, low, close, volume]` (numbers as text
    or int, never float)."""
    start_ms, o, h, low, c, v = bar[:6]
    values = [edge.parse_decimal(x) for x in (o, h, low, c, v)]  # never via float
    if min(values) < 0:
        raise ValueError(f"unreadable candle {bar!r}")
    return CandleRow(symbol, interval, int(start_ms) * 1_000_000, *values, max(0, trades), True)


async def fetch_candles(
    exchange: Any,
    venue_symbol: str,
    symbol: str,
    interval: Interval,
    since_ms: int,
    until_ms: int,
    *,
    progress: Progress | None = None,
) -> list[CandleRow]:
    """The venue's closed candles of `venue_symbol` from `since_ms` to `until_ms`, paged."""
    exchange.number = str  # the venue's text of each number
    rows: list[CandleRow] = []
    cursor = since_ms
    step_ms = interval.seconds * 1000
    while cursor < until_ms:
        page = await exchange.fetch_ohlcv(venue_symbol, interval.name, since=cursor, limit=PAGE)
        fresh = [bar for bar in page if cursor <= int(bar[0]) < until_ms - step_ms + 1]
        for bar in fresh:
            try:
                rows.append(venue_candle(symbol, interval.name, bar))
            except (ValueError, ArithmeticError, TypeError) as exc:
                log.warning("%s: skipped a candle: %s", symbol, exc)
        if not page or not fresh:
            break
        cursor = int(fresh[-1][0]) + step_ms
        if progress is not None:
            progress(len(rows), min(cursor, until_ms) - since_ms, until_ms - since_ms)
    return rows
