"""Past candles from a venue (ccxt's `fetch_ohlcv`), stored as closed candles of the
fetched interval and rolled up into every longer configured interval it divides, so a
chart has history before the live trades fill it.

`manage.py backfill SYMBOL --since ... --interval 1m` runs it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from decimal import Decimal
from typing import Any

from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.ticks import NS_PER_S
from tickstream.market.writer import Batch, CandleRow

log = logging.getLogger(__name__)

PAGE = 1000  # candles per request (most venues' maximum)
Progress = Callable[[int, int, int], None]  # (candles so far, ms reached, ms to reach)


def _row(symbol: str, interval: str, bar: Sequence[Any]) -> CandleRow:
    start_ms, o, h, low, c, v = bar[:6]
    values = [Decimal(str(x)) for x in (o, h, low, c, v)]
    if any(isinstance(x, float) for x in (o, h, low, c, v)):
        raise ValueError("a candle's numbers must not pass through float")
    if not all(x.is_finite() for x in values) or min(values) < 0:
        raise ValueError(f"unreadable candle {bar!r}")
    return CandleRow(symbol, interval, int(start_ms) * 1_000_000, *values, 0, True)


def roll_up(rows: Iterable[CandleRow], target: Interval) -> list[CandleRow]:
    """Candles of a longer interval from consecutive shorter ones."""
    size = target.seconds * NS_PER_S
    out: dict[int, CandleRow] = {}
    for row in sorted(rows, key=lambda r: r.start):
        start = row.start - row.start % size
        prev = out.get(start)
        if prev is None:
            out[start] = row._replace(interval=target.name, start=start)
        else:
            out[start] = prev._replace(
                high=max(prev.high, row.high),
                low=min(prev.low, row.low),
                close=row.close,
                volume=prev.volume + row.volume,
            )
    return list(out.values())


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
                rows.append(_row(symbol, interval.name, bar))
            except (ValueError, ArithmeticError, TypeError) as exc:
                log.warning("%s: skipped a candle: %s", symbol, exc)
        if not page or not fresh:
            break
        cursor = int(fresh[-1][0]) + step_ms
        if progress is not None:
            progress(len(rows), min(cursor, until_ms) - since_ms, until_ms - since_ms)
    return rows


def store_candles(rows: list[CandleRow], intervals: Sequence[Interval]) -> int:
    """Store the candles and their roll-ups into each longer interval they divide; returns
    the rows written (call from a thread: it writes through the ORM)."""
    from tickstream.market.upserts import BatchStore

    if not rows:
        return 0
    base = next((i for i in intervals if i.name == rows[0].interval), None)
    all_rows = list(rows)
    for target in intervals:
        if (
            base is not None
            and target.seconds > base.seconds
            and target.seconds % base.seconds == 0
        ):
            all_rows += roll_up(rows, target)
    store = BatchStore()
    refused = store(Batch(candles=all_rows))
    return len(all_rows) - refused
