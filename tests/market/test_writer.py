"""The batched writer: a slow database never stalls ticks; nothing is lost silently."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest

from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.core.engine import MarketEngine, TickUpdate
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.writer import Batch, BatchWriter

T0 = 1_700_000_040 * NS_PER_S  # on a minute boundary


def tick_updates(n: int, symbol: str = "AAPL", start: int = T0, step: int = NS_PER_S):
    engine = MarketEngine(
        [InstrumentSpec(symbol, symbol, InstrumentKind.STOCK)],
        [parse_interval("1m")],
        [],
        max_delay_s=None,
    )
    for i in range(n):
        result = engine.process(
            Tick(
                symbol,
                Decimal(100 + i),
                Decimal(1),
                start + i * step,
                start + i * step,
                "t",
                str(i),
            )
        )
        assert isinstance(result, TickUpdate)
        yield result


async def test_a_slow_database_does_not_stall_the_tick_path() -> None:
    release = threading.Event()
    writing = threading.Event()
    written: list[Batch] = []

    def slow_write(batch: Batch) -> None:
        writing.set()
        release.wait(10)
        written.append(batch)

    writer = BatchWriter(slow_write, flush_ms=10, store_ticks=True)
    updates = list(tick_updates(300))
    for u in updates[:100]:
        writer.note(u)
    flush = asyncio.create_task(writer.flush())
    await asyncio.to_thread(writing.wait, 10)  # the database is now busy
    for u in updates[100:]:  # ...and ticks keep flowing while it is
        writer.note(u)
    assert writer.pending() > 0 and not flush.done()
    release.set()
    await flush
    await writer.stop()
    assert sum(len(b.ticks) for b in written) == 300
    assert writer.stats.dropped_ticks == 0


async def test_overflow_is_counted_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    writer = BatchWriter(lambda b: None, queue_limit=50, store_ticks=True)
    for u in tick_updates(80):
        writer.note(u)
    assert writer.stats.dropped_ticks == 30
    assert "writer queue full" in caplog.text


async def test_forming_candles_conflate_and_closed_ones_are_kept() -> None:
    batches: list[Batch] = []
    writer = BatchWriter(batches.append)
    for u in tick_updates(150):  # 2.5 minutes of 1 s ticks
        writer.note(u)
    await writer.stop()
    candles = batches[0].candles
    assert [(row.start - T0) // NS_PER_S for row in candles] == [0, 60, 120]
    assert [row.closed for row in candles] == [True, True, False]  # two closed, one forming
    assert [row.trades for row in candles] == [60, 60, 30]
    assert len(batches[0].quotes) == 1


async def test_a_failed_write_is_retried_with_nothing_lost() -> None:
    calls: list[Batch] = []

    def flaky(batch: Batch) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("database went away")

    writer = BatchWriter(flaky, store_ticks=True)
    for u in tick_updates(90):
        writer.note(u)
    await writer.flush()
    assert writer.stats.failures == 1
    await writer.flush()
    assert writer.stats.failures == 1 and writer.stats.flushes == 1
    assert len(calls[1].ticks) == 90
    assert [row.closed for row in calls[1].candles if row.closed] == [True]  # the minute


async def test_the_writer_counts_refused_rows() -> None:
    writer = BatchWriter(lambda batch: 1)
    for u in tick_updates(5):
        writer.note(u)
    await writer.flush()
    # One forming candle and one quote were written, of which the store refused one.
    assert writer.stats.refused_rows == 1 and writer.stats.rows_written == 1
