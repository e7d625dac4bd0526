"""The database side of the writer: upserts of candles and quotes, inserts of ticks, and
rows the columns cannot hold refused one by one."""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from tests.market.test_writer import T0, tick_updates
from tickstream.market.core.ticks import Tick
from tickstream.market.writer import Batch, BatchWriter, CandleRow, QuoteRow


@pytest.mark.django_db(transaction=True)
async def test_store_upserts_candles_and_quotes(instruments: None) -> None:
    from tickstream.market.models import Candle, Quote, Trade
    from tickstream.market.upserts import BatchStore

    store = BatchStore()
    writer = BatchWriter(store, close=store.close, store_ticks=True)
    updates = list(tick_updates(150))
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
    assert quote.source == "t"  # the feed of the last trade
    assert trades == 150


@pytest.mark.django_db(transaction=True)
async def test_a_row_the_columns_cannot_hold_is_refused_and_the_rest_is_written(
    instruments: None, caplog: pytest.LogCaptureFixture
) -> None:
    """The writer never stores a value it could not read back, and one bad row costs only
    itself (before, one such row stopped every later write)."""
    from django.db import connection

    from tickstream.market.models import Candle, Quote, Trade
    from tickstream.market.upserts import BatchStore

    store = BatchStore()
    good = CandleRow("AAPL", "1m", T0, *(Decimal("230.5"),) * 4, Decimal(10), 3, True)
    huge = CandleRow("MSFT", "1m", T0, *(Decimal("1e400"),) * 4, Decimal(10), 3, True)
    quote = QuoteRow("KO", *(Decimal("60"),) * 4, None, Decimal("1e400"), None, 1, T0)
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
