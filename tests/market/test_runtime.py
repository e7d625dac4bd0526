"""A restart restores the market state from the database: quote, candles, indicators."""

from __future__ import annotations

import time
from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from tickstream.market.analytics.indicators import parse_indicators
from tickstream.market.analytics.intervals import parse_interval
from tickstream.market.engine import MarketEngine, TickUpdate
from tickstream.market.persistence import BatchWriter
from tickstream.market.runtime import _hydrate, _load_instruments
from tickstream.market.storage import BatchStore
from tickstream.market.ticks import NS_PER_S, Tick

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
    assert await database_sync_to_async(_hydrate)(after) == 1
    old, new = before.states["AAPL"], after.states["AAPL"]
    assert (new.quote.last, new.quote.high, new.quote.low, new.quote.volume, new.quote.trades) == (
        old.quote.last,
        old.quote.high,
        old.quote.low,
        old.quote.volume,
        old.quote.trades,
    )
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
