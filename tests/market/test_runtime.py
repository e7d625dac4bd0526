"""A restart restores the market state from the database: quote, candles, indicators."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.core.engine import MarketEngine, TickUpdate
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.runtime import _hydrate, _load_instruments
from tickstream.market.upserts import BatchStore
from tickstream.market.writer import BatchWriter

pytestmark = pytest.mark.django_db(transaction=True)


def _engine(specs: list) -> MarketEngine:
    return MarketEngine(
        specs,
        [parse_interval("1m"), parse_interval("1h")],
        parse_indicators("sma:3,ema:3,rsi:2,atr:2"),
        max_delay_s=None,
    )


async def test_restart_resumes_quote_candles_and_warm_indicators(instruments: None) -> None:
    specs = await database_sync_to_async(_load_instruments)()
    before = _engine(specs)
    store = BatchStore()
    writer = BatchWriter(store, close=store.close)
    now = time.time_ns()
    start = now - now % (60 * NS_PER_S) - 10 * 60 * NS_PER_S  # ten minutes ago, on a minute
    for i in range(9 * 6 + 3):  # 9.5 minutes of trades, 10 s apart
        ts = start + i * 10 * NS_PER_S
        update = before.process(
            Tick("AAPL", Decimal(200 + (i * 7) % 11), Decimal(i + 1), ts, ts, "t")
        )
        assert isinstance(update, TickUpdate)
        writer.note(update)
    await writer.stop()

    after = _engine(specs)
    assert await database_sync_to_async(_hydrate)(after) == (1, 1)
    old, new = before.states["AAPL"], after.states["AAPL"]
    assert (new.quote.last, new.quote.high, new.quote.low, new.quote.volume, new.quote.trades) == (
        old.quote.last,
        old.quote.high,
        old.quote.low,
        old.quote.volume,
        old.quote.trades,
    )
    assert new.quote.source == old.quote.source == "t"  # the feed of the last trade
    minute = new.series_for("1m")
    assert minute is not None and minute.last_values["sma_3"] is not None  # warm, not cold
    assert minute.last_values["atr_2"] is not None
    for interval in ("1m", "1h"):
        a, b = old.series_for(interval), new.series_for(interval)
        assert a is not None and b is not None
        assert b.builder.forming == a.builder.forming
        assert b.last_values == a.last_values
        assert b.provisional() == a.provisional()
    # ...and both carry on identically.
    ts = start + 57 * 10 * NS_PER_S
    for engine in (before, after):
        engine.process(Tick("AAPL", Decimal("205"), Decimal(1), ts, ts, "t"))
    assert (
        after.states["AAPL"].series_for("1m").last_values  # type: ignore[union-attr]
        == before.states["AAPL"].series_for("1m").last_values
    )  # type: ignore[union-attr]


async def test_a_stored_row_that_cannot_be_read_is_reported_and_skipped(
    instruments: None, caplog: pytest.LogCaptureFixture
) -> None:
    """A database holding an unreadable value (as one written before the tick bounds
    existed) no longer stops a start: that row is skipped, the others are restored."""
    from django.db import connection

    from tests.factories import stored_quote
    from tickstream.market.models import Candle, Instrument

    def poison() -> None:
        now = datetime.now(UTC)
        for symbol, last in (("KO", "60.5"), ("AAPL", "230.25")):
            stored_quote(symbol, last, time=now)
        minute = now.replace(second=0, microsecond=0)
        for symbol in ("KO", "AAPL"):
            Candle.objects.create(
                instrument=Instrument.objects.get(symbol=symbol),
                interval="1m",
                start=minute,
                open=1,
                high=1,
                low=1,
                close=1,
                volume=1,
                closed=False,
            )
        bad = "'NaN'" if connection.vendor == "postgresql" else "'1e400'"  # inf on SQLite
        ko = Instrument.objects.get(symbol="KO").pk
        with connection.cursor() as cursor:
            cursor.execute(f"UPDATE market_quote SET volume = {bad} WHERE instrument_id = %s", [ko])
            cursor.execute(f"UPDATE market_candle SET close = {bad} WHERE instrument_id = %s", [ko])

    await database_sync_to_async(poison)()
    specs = await database_sync_to_async(_load_instruments)()
    engine = _engine(specs)
    restored, quoted = await database_sync_to_async(_hydrate)(engine)
    assert restored == quoted == 1  # AAPL; KO's rows were skipped
    assert engine.states["AAPL"].quote.last == Decimal("230.25")
    assert "KO" not in engine.states
    assert "cannot be restored and is skipped" in caplog.text
    # KO trades again from a fresh state.
    ts = time.time_ns()
    assert isinstance(
        engine.process(Tick("KO", Decimal("61"), Decimal(1), ts, ts, "t")), TickUpdate
    )
