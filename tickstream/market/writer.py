"""The batched writer: candles, quotes and (optionally) ticks to the database.

The tick path only notes what changed (O(1), never blocks). Once a second, or sooner when
enough is pending, the writer collects rows on the event loop and writes them in a worker
thread in one transaction. A slow database delays the writes, not the ticks: forming
candles and quotes conflate to their latest value, closed candles and ticks queue up to a
bound, and what overflows is counted and logged.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from decimal import Decimal
from typing import NamedTuple

from tickstream.db import summary
from tickstream.market.core.analytics.candles import Candle
from tickstream.market.core.analytics.state import SymbolState
from tickstream.market.core.engine import TickUpdate
from tickstream.market.core.ticks import Tick
from tickstream.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)


class CandleRow(NamedTuple):
    """A candle to upsert (`start` in ns)."""

    symbol: str
    interval: str
    start: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal
    trades: int
    closed: bool

    @property
    def key(self) -> tuple[str, str, int]:
        return (self.symbol, self.interval, self.start)


class QuoteRow(NamedTuple):
    """A session quote to upsert (`time` in ns)."""

    symbol: str
    last: Decimal
    open: Decimal
    high: Decimal
    low: Decimal
    prev_close: Decimal | None
    volume: Decimal
    vwap: Decimal | None
    trades: int
    time: int
    source: str = ""


def candle_row(symbol: str, interval: str, c: Candle, closed: bool) -> CandleRow:
    return CandleRow(
        symbol, interval, c.start, c.open, c.high, c.low, c.close, c.volume, c.trades, closed
    )


@dataclass(slots=True)
class Batch:
    candles: list[CandleRow] = field(default_factory=list)
    quotes: list[QuoteRow] = field(default_factory=list)
    ticks: list[Tick] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.candles) + len(self.quotes) + len(self.ticks)


@dataclass(slots=True)
class WriterStats:
    flushes: int = 0
    rows_written: int = 0
    failures: int = 0
    dropped_ticks: int = 0
    dropped_candles: int = 0
    refused_rows: int = 0  # rows the store could not keep (logged by the store)
    last_flush_ms: float = 0.0


class BatchWriter:
    """Collects changes from the tick path and writes them in batches."""

    def __init__(
        self,
        write: Callable[[Batch], int | None],
        *,
        close: Callable[[], None] | None = None,
        flush_ms: int = 1000,
        batch_size: int = 2000,
        queue_limit: int = 100_000,
        store_ticks: bool = False,
    ) -> None:
        self._write = write
        self._close = close
        # One thread does every write, so it keeps one database connection.
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="batch-writer")
        self.flush_s = flush_ms / 1000
        self.batch_size = batch_size
        self.queue_limit = queue_limit
        self.store_ticks = store_ticks
        self.stats = WriterStats()
        self._dirty: dict[str, SymbolState] = {}
        self._closed: deque[CandleRow] = deque()
        self._ticks: deque[Tick] = deque()
        self._wake = asyncio.Event()
        self._stopping = False
        self._overflow = ThrottledWarning(log)
        self._failing = 0  # flushes failed in a row (the retry backs off)
        self._outage: tuple[int, int] | None = None  # drops counted when failing began

    def note(self, update: TickUpdate) -> None:
        """Record what a tick changed. Called on the tick path: O(1), never blocks."""
        symbol = update.tick.symbol
        self._dirty[symbol] = update.state
        for closed in update.closed:
            if len(self._closed) >= self.queue_limit:
                self.stats.dropped_candles += 1
                self._warn_overflow()
                continue
            self._closed.append(candle_row(symbol, closed.interval.name, closed.candle, True))
        if self.store_ticks:
            if len(self._ticks) >= self.queue_limit:
                self.stats.dropped_ticks += 1
                self._warn_overflow()
            else:
                self._ticks.append(update.tick)
                if len(self._ticks) >= self.batch_size:
                    self._wake.set()

    def _warn_overflow(self) -> None:
        self._overflow.warn(
            "writer queue full (%d rows): dropped %d ticks and %d closed candles so far; "
            "the database is slower than the feed",
            self.queue_limit,
            self.stats.dropped_ticks,
            self.stats.dropped_candles,
        )

    def pending(self) -> int:
        return len(self._closed) + len(self._ticks) + len(self._dirty)

    def collect(self) -> Batch:
        """Take everything pending as rows (runs on the event loop, between ticks)."""
        batch = Batch()
        candles: dict[tuple[str, str, int], CandleRow] = {}
        while self._closed:
            row = self._closed.popleft()
            candles[row.key] = row
        for symbol, state in self._dirty.items():
            for series in state.series:
                c = series.builder.forming
                if c is not None:
                    key = (symbol, series.interval.name, c.start)
                    candles[key] = candle_row(symbol, series.interval.name, c, False)
            q = state.quote
            if (
                q.last is not None
                and q.open is not None
                and q.high is not None
                and q.low is not None
            ):
                vwap = q.vwap
                batch.quotes.append(
                    QuoteRow(
                        symbol,
                        q.last,
                        q.open,
                        q.high,
                        q.low,
                        q.prev_close,
                        q.volume,
                        None if vwap is None else round(vwap, 10),
                        q.trades,
                        q.ts,
                        q.source,
                    )
                )
        self._dirty.clear()
        batch.candles = list(candles.values())
        batch.ticks = list(self._ticks)
        self._ticks.clear()
        return batch

    async def flush(self) -> None:
        """Write what is pending now."""
        batch = self.collect()
        if not len(batch):
            return
        started = time.perf_counter()
        loop = asyncio.get_running_loop()
        try:
            refused = await loop.run_in_executor(self._executor, self._write, batch)
        except Exception as exc:
            self.stats.failures += 1
            self._failing += 1
            if self._outage is None:
                self._outage = (self.stats.dropped_ticks, self.stats.dropped_candles)
                log.exception("writing %d rows failed; retrying with backoff", len(batch))
            else:
                log.warning(
                    "writing %d rows failed again (%d in a row): %s",
                    len(batch),
                    self._failing,
                    summary(exc),
                )
            self._requeue(batch)
            if self._close is not None:  # a broken connection is opened afresh next time
                with contextlib.suppress(Exception):
                    await loop.run_in_executor(self._executor, self._close)
            return
        if self._outage is not None:
            ticks, candles = self._outage
            log.warning(
                "the database is back after %d failed writes: wrote %d rows; dropped "
                "meanwhile (the queue was full): %d closed candles, %d ticks",
                self._failing,
                len(batch),
                self.stats.dropped_candles - candles,
                self.stats.dropped_ticks - ticks,
            )
            self._outage = None
        self._failing = 0
        self.stats.flushes += 1
        self.stats.refused_rows += refused or 0
        self.stats.rows_written += len(batch) - (refused or 0)
        self.stats.last_flush_ms = (time.perf_counter() - started) * 1000

    def _requeue(self, batch: Batch) -> None:
        room = self.queue_limit - len(self._closed)
        closed = [row for row in batch.candles if row.closed]
        self._closed.extendleft(reversed(closed[:room]))
        self.stats.dropped_candles += max(0, len(closed) - room)
        room = self.queue_limit - len(self._ticks)
        self._ticks.extendleft(reversed(batch.ticks[:room]))
        self.stats.dropped_ticks += max(0, len(batch.ticks) - room)

    async def run(self) -> None:
        """Flush every `flush_ms`, or sooner when a batch is full, until stopped."""
        while not self._stopping:
            if self._failing:  # the database is failing: wait longer each time, up to 10 s
                await asyncio.sleep(min(10.0, self.flush_s * 2 ** min(self._failing, 5)))
            else:
                try:
                    await asyncio.wait_for(self._wake.wait(), timeout=self.flush_s)
                except TimeoutError:
                    pass
            self._wake.clear()
            await self.flush()

    async def stop(self) -> None:
        """Write everything still pending (called on shutdown), then release the thread."""
        self._stopping = True
        self._wake.set()
        await self.flush()
        loop = asyncio.get_running_loop()
        if self._close is not None:
            await loop.run_in_executor(self._executor, self._close)
        self._executor.shutdown(wait=True)
