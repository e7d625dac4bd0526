"""Past candles from a venue, stored as closed candles of the fetched interval and
rolled up into every longer configured interval it divides, so a chart has history
before the live trades fill it.

Two ways in: `manage.py backfill SYMBOL --since ... --interval 1m` on demand, and at
start, `fill_from_venue` for each live feed whose symbols have no stored candles yet
(the runtime runs it before the feed's trades flow, so the engine warms up from them).
A feed with history (`Feed.backfill_days`) fetches with `Feed.candles`: ccxt's
`fetch_ohlcv` for exchanges, Alpaca's bars for stocks.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import TYPE_CHECKING

from asgiref.sync import sync_to_async

from tickstream.market.core.analytics.intervals import Interval, parse_interval
from tickstream.market.core.ticks import NS_PER_S, ns_to_iso
from tickstream.market.writer import Batch, CandleRow

if TYPE_CHECKING:
    from tickstream.market.feeds.base import Feed

log = logging.getLogger(__name__)


def roll_up(
    rows: Iterable[CandleRow],
    target: Interval,
    *,
    since_ns: int | None = None,
    until_ns: int | None = None,
    forming_tail: bool = False,
) -> list[CandleRow]:
    """Candles of a longer interval from consecutive shorter ones. With the window the
    rows cover, a period that began before it is left out (its start is unknown), and so
    is one that ends after it, unless the window ends now (`forming_tail`): then that
    period is the forming candle (`closed` false) the live trades continue."""
    size = target.seconds * NS_PER_S
    out: dict[int, CandleRow] = {}
    for row in sorted(rows, key=lambda r: r.start):
        start = row.start - row.start % size
        if since_ns is not None and start < since_ns:
            continue
        closed = until_ns is None or start + size <= until_ns
        if not closed and not forming_tail:
            continue
        prev = out.get(start)
        if prev is None:
            out[start] = row._replace(interval=target.name, start=start, closed=closed)
        else:
            out[start] = prev._replace(
                high=max(prev.high, row.high),
                low=min(prev.low, row.low),
                close=row.close,
                volume=prev.volume + row.volume,
                trades=prev.trades + row.trades,
            )
    return list(out.values())


def store_candles(
    rows: list[CandleRow],
    intervals: Sequence[Interval],
    *,
    since_ms: int | None = None,
    until_ms: int | None = None,
    until_now: bool = False,
) -> int:
    """Store the candles and their roll-ups into each longer interval they divide (whole
    periods of the window fetched, when given, and the current one when it ends now);
    returns the rows written (call from a thread: it writes through the ORM)."""
    from tickstream.market.upserts import BatchStore

    if not rows:
        return 0
    base = next((i for i in intervals if i.name == rows[0].interval), None)
    window = {
        "since_ns": None if since_ms is None else since_ms * 1_000_000,
        "until_ns": None if until_ms is None else until_ms * 1_000_000,
        "forming_tail": until_now,
    }
    all_rows = list(rows)
    for target in intervals:
        if (
            base is not None
            and target.seconds > base.seconds
            and target.seconds % base.seconds == 0
        ):
            all_rows += roll_up(rows, target, **window)
    store = BatchStore()
    refused = store(Batch(candles=all_rows))
    return len(all_rows) - refused


BASE = "1m"  # the interval fetched at start; longer ones are rolled up from it
DAY_MS = 86_400_000


def start_window(days: float, now_ms: int) -> tuple[int, int]:
    """What a first start fetches: from the start of the UTC day `days - 1` days before
    today (so the daily candles before today are whole), to the start of this minute (the
    forming minute comes from the live trades)."""
    today = now_ms - now_ms % DAY_MS
    since = today - max(0, int(days) - 1) * DAY_MS
    if days > int(days):  # a fraction of a day: that much before now
        since = min(since, now_ms - int(days * DAY_MS))
    return since, now_ms - now_ms % 60_000


def _without_candles(symbols: Sequence[str], interval: str) -> list[str]:
    from tickstream.market.models import Candle

    stored = set(
        Candle.objects.filter(instrument__symbol__in=symbols, interval=interval)
        .values_list("instrument__symbol", flat=True)
        .distinct()
    )
    return [s for s in symbols if s not in stored]


async def fill_from_venue(
    feed: Feed, intervals: Sequence[Interval], *, now_ms: int | None = None
) -> dict[str, Decimal | None]:
    """Fetch and store the recent candles of each of the feed's symbols that has none
    stored, logging a progress line per page. Returns, per symbol filled, the close of
    its last candle before today (the previous close its quote starts from). A symbol
    the venue cannot serve is logged and skipped: the live trades start all the same."""
    days = feed.backfill_days
    if days <= 0:
        return {}
    base = parse_interval(BASE)
    symbols = await sync_to_async(_without_candles)(feed.symbols(), base.name)
    if not symbols:
        return {}
    now_ms = time.time_ns() // 1_000_000 if now_ms is None else now_ms
    since_ms, until_ms = start_window(days, now_ms)
    today_ns = (now_ms - now_ms % DAY_MS) * 1_000_000
    filled: dict[str, Decimal | None] = {}
    for symbol in symbols:
        name = f"{feed.describe()} {symbol}"
        log.info("%s: no stored history; fetching its %s candles since %s", name, base.name,
                 ns_to_iso(since_ms * 1_000_000))  # fmt: skip

        def progress(count: int, done: int, total: int, name: str = name) -> None:
            log.info("%s: %d candles (%d%%)", name, count, 100 * done // max(total, 1))

        try:
            rows = await feed.candles(symbol, base, since_ms, until_ms, progress)
        except Exception as exc:
            log.warning("%s: no history from the venue: %s: %s", name, type(exc).__name__, exc)
            continue
        if not rows:
            log.info("%s: the venue has no candles in that window", name)
            continue
        written = await sync_to_async(store_candles)(
            rows, intervals, since_ms=since_ms, until_ms=until_ms, until_now=True
        )
        before = [r for r in rows if r.start < today_ns]
        filled[symbol] = before[-1].close if before else None
        log.info("%s: %d candles fetched, %d rows stored", name, len(rows), written)
    return filled
