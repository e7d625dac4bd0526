"""The batched writer: a slow database never stalls ticks; nothing is lost silently."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from tickstream.market.analytics.intervals import parse_interval
from tickstream.market.engine import MarketEngine, TickUpdate
from tickstream.market.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.persistence import Batch, BatchWriter
from tickstream.market.ticks import NS_PER_S, Tick

T0 = 1_700_000_040 * NS_PER_S  # on a minute boundary


def _updates(n: int, symbol: str = "AAPL", start: int = T0, step: int = NS_PER_S):
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
    updates = list(_updates(300))
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
    for u in _updates(80):
        writer.note(u)
    assert writer.stats.dropped_ticks == 30
    assert "writer queue full" in caplog.text


async def test_forming_candles_conflate_and_closed_ones_are_kept() -> None:
    batches: list[Batch] = []
    writer = BatchWriter(batches.append)
    for u in _updates(150):  # 2.5 minutes of 1 s ticks
        writer.note(u)
    await writer.stop()
    candles = batches[0].candles
    assert [(row[2] - T0) // NS_PER_S for row in candles] == [0, 60, 120]
    assert [row[9] for row in candles] == [True, True, False]  # two closed, one forming
    assert [row[8] for row in candles] == [60, 60, 30]
    assert len(batches[0].quotes) == 1


async def test_a_failed_write_is_retried_with_nothing_lost() -> None:
    calls: list[Batch] = []

    def flaky(batch: Batch) -> None:
        calls.append(batch)
        if len(calls) == 1:
            raise RuntimeError("database went away")

    writer = BatchWriter(flaky, store_ticks=True)
    for u in _updates(90):
        writer.note(u)
    await writer.flush()
    assert writer.stats.failures == 1
    await writer.flush()
    assert writer.stats.failures == 1 and writer.stats.flushes == 1
    assert len(calls[1].ticks) == 90
    assert [row[9] for row in calls[1].candles if row[9]] == [True]  # the closed minute


@pytest.mark.django_db(transaction=True)
async def test_store_upserts_candles_and_quotes(instruments: None) -> None:
    from tickstream.market.models import Candle, Quote, Trade
    from tickstream.market.storage import BatchStore

    store = BatchStore()
    writer = BatchWriter(store, close=store.close, store_ticks=True)
    updates = list(_updates(150))
    for u in updates[:70]:
        writer.note(u)
    await writer.flush()
    for u in updates[70:]:
        writer.note(u)
    await writer.stop()

    def read() -> tuple[list[tuple], Quote, int]:
        rows = list(
            Candle.objects.filter(instrument__symbol="AAPL", interval="1m")
            .order_by("start")
            .values_list("open", "close", "volume", "trades", "closed")
        )
        return rows, Quote.objects.get(instrument__symbol="AAPL"), Trade.objects.count()

    rows, quote, trades = await database_sync_to_async(read)()
    assert rows == [
        (Decimal(100), Decimal(159), Decimal(60), 60, True),
        (Decimal(160), Decimal(219), Decimal(60), 60, True),
        (Decimal(220), Decimal(249), Decimal(30), 30, False),
    ]
    assert quote.last == Decimal(249) and quote.trades == 150
    assert trades == 150


@pytest.mark.django_db(transaction=True)
async def test_a_row_the_columns_cannot_hold_is_refused_and_the_rest_is_written(
    instruments: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer never stores a value it could not read back, and one bad row costs only
    itself (before, one such row stopped every later write)."""
    from django.db import connection

    from tickstream.market.models import Candle, Quote, Trade
    from tickstream.market.storage import BatchStore

    store = BatchStore()
    good = ("AAPL", "1m", T0, *(Decimal("230.5"),) * 4, Decimal(10), 3, True)
    huge = ("MSFT", "1m", T0, *(Decimal("1e400"),) * 4, Decimal(10), 3, True)
    quote = ("KO", Decimal("60"), *(Decimal("60"),) * 3, None, Decimal("1e400"), None, 1, T0)
    nul = Tick("AAPL", Decimal("230.5"), Decimal(1), T0, T0, "t", "nul\x00byte")
    fine = Tick("AAPL", Decimal("230.5"), Decimal(1), T0, T0, "t", "fine")
    batch = Batch(candles=[good, huge], quotes=[quote], ticks=[nul, fine])
    refused = await database_sync_to_async(store)(batch)
    # PostgreSQL refuses the NUL character in text (found row by row); SQLite keeps it.
    assert refused == 2 + (connection.vendor == "postgresql")
    assert "cannot be kept" in caplog.text

    def read() -> tuple[list, int, list]:
        candles = list(Candle.objects.values_list("instrument__symbol", "close"))
        ids = list(Trade.objects.values_list("trade_id", flat=True))
        return candles, Quote.objects.count(), ids

    candles, quotes, ids = await database_sync_to_async(read)()
    assert candles == [("AAPL", Decimal("230.5"))] and quotes == 0
    assert "fine" in ids
    await database_sync_to_async(store.close)()


async def test_the_writer_counts_refused_rows() -> None:
    writer = BatchWriter(lambda batch: 1)
    for u in _updates(5):
        writer.note(u)
    await writer.flush()
    # One forming candle and one quote were written, of which the store refused one.
    assert writer.stats.refused_rows == 1 and writer.stats.rows_written == 1
