"""`manage.py backfill`: real Binance candles (freqtrade's recorded 1-minute klines, read
from ../shared/data) through ccxt's own Binance kline parser, stored and rolled up."""

from __future__ import annotations

import asyncio
import json
import time
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from tests.conftest import shared_data
from tickstream.market.core.ticks import ns_to_datetime
from tickstream.market.feeds.exchange import make_exchange
from tickstream.market.feeds.health import FeedState
from tickstream.market.models import Candle

pytestmark = pytest.mark.django_db


def _recorded_exchange(bars: list[list[str]], requests: list[dict[str, Any]]) -> Any:
    """A ccxt Binance whose klines endpoint answers from the recording, in Binance's shape
    (numbers as text, as Binance sends them)."""
    exchange = make_exchange("binance", {})
    exchange.set_markets([{
        "id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT", "baseId": "BTC",
        "quoteId": "USDT", "type": "spot", "spot": True, "contract": False, "linear": None,
        "inverse": None, "option": False, "swap": False, "future": False, "margin": False,
        "active": True, "precision": {}, "limits": {}, "info": {}, "lowercaseId": "btcusdt",
    }])  # fmt: skip

    async def klines(params: dict[str, Any]) -> list[list[Any]]:
        requests.append(dict(params))
        start, limit = int(params["startTime"]), int(params["limit"])
        page = [b for b in bars if int(b[0]) >= start][:limit]
        return [[int(b[0]), *b[1:6], int(b[0]) + 59_999, "0", 0, "0", "0", "0"] for b in page]

    exchange.publicGetKlines = klines
    return exchange


@pytest.mark.django_db(transaction=True)  # the writer's store manages its connection itself
def test_backfill_stores_the_venue_candles_and_their_roll_ups(
    instruments: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = shared_data("freqtrade", "UNITTEST_BTC-1m.json").read_text()
    bars = json.loads(text, parse_float=str)[:1500]  # 25 hours; numbers kept as their text
    requests: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "tickstream.market.feeds.exchange.make_exchange",
        lambda venue, config: _recorded_exchange(bars, requests),
    )
    first, last = int(bars[0][0]), int(bars[-1][0])
    out = StringIO()
    call_command(
        "backfill", "BTC-USD", "--since", ns_to_datetime(first * 10**6).isoformat(),
        "--until", ns_to_datetime((last + 60_000) * 10**6).isoformat(), "--interval", "1m",
        "--feeds", "exchange venue=binance symbols=BTC/USDT map=BTC-USD", stdout=out,
    )  # fmt: skip
    assert len(requests) == 2  # 1,000 candles a page
    stored = Candle.objects.filter(instrument__symbol="BTC-USD", interval="1m").order_by("start")
    assert stored.count() == len(bars)
    for row, bar in zip(stored, bars, strict=True):
        assert int(row.start.timestamp() * 1000) == int(bar[0])
        assert [row.open, row.high, row.low, row.close, row.volume] == [
            Decimal(x) for x in bar[1:6]
        ]
    # Hours rolled up: only whole ones (the recording starts 2 minutes into an hour and
    # ends 31 minutes into one, and --until is in the past: no forming candle either).
    hours = list(
        Candle.objects.filter(instrument__symbol="BTC-USD", interval="1h").order_by("start")
    )
    hour = {int(b[0]) // 3_600_000 for b in bars}
    whole = sorted(hour)[1:-1]
    assert [int(h.start.timestamp()) // 3600 for h in hours] == whole
    assert all(h.closed for h in hours)
    first_hour = [b for b in bars if int(b[0]) // 3_600_000 == whole[0]]
    top = hours[0]
    assert (top.open, top.close) == (Decimal(first_hour[0][1]), Decimal(first_hour[-1][4]))
    assert top.high == max(Decimal(b[2]) for b in first_hour)
    assert top.volume == sum(Decimal(b[5]) for b in first_hour)
    assert "candles fetched" in out.getvalue() and "100%" in out.getvalue()


def test_backfill_names_what_is_missing(instruments: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no exchange or alpaca feed prices BTC-USD"):
        call_command("backfill", "BTC-USD", "--since", "2026-01-01", "--feeds", "simulated")
    with pytest.raises(CommandError, match="--since must be before"):
        call_command("backfill", "BTC-USD", "--since", "2026-01-02", "--until", "2026-01-01",
                     "--feeds", "exchange venue=binance symbols=BTC/USDT map=BTC-USD")  # fmt: skip


@pytest.mark.django_db(transaction=True)
async def test_a_first_start_fills_an_empty_symbol_from_its_venue_before_going_live(
    instruments: None,
) -> None:
    """A live exchange feed whose symbol has no stored candles fetches its recent 1m candles
    (the recording's real candles, moved in time to end a minute ago), stores them with
    their roll-ups, and the engine warms up from them before the feed's first trade; a
    second start, with candles stored, fetches nothing."""
    from asgiref.sync import sync_to_async
    from django.db import connections

    from tickstream.market.backfill import start_window
    from tickstream.market.core.analytics.indicators import parse_indicators
    from tickstream.market.core.analytics.intervals import parse_interval
    from tickstream.market.core.engine import MarketEngine
    from tickstream.market.feeds.exchange import ExchangeFeed
    from tickstream.market.pipeline import Pipeline
    from tickstream.market.runtime import MarketRuntime, _load_instruments

    text = shared_data("freqtrade", "UNITTEST_BTC-1m.json").read_text()
    recorded = json.loads(text, parse_float=str)[:4000]
    now_ms = time.time_ns() // 1_000_000
    shift = (now_ms - now_ms % 60_000 - 60_000) - int(recorded[-1][0])  # whole minutes
    bars = [[int(b[0]) + shift, *b[1:]] for b in recorded]
    requests: list[dict[str, Any]] = []
    specs = await sync_to_async(_load_instruments)()
    intervals = ["1m", "1h", "1d"]

    async def start_once() -> MarketEngine:
        engine = MarketEngine(
            specs, [parse_interval(i) for i in intervals], parse_indicators("sma:3,rsi:2"),
            max_delay_s=None,
        )  # fmt: skip
        feed = ExchangeFeed(
            "binance", {"BTC/USDT": "BTC-USD"}, ws_url="ws://127.0.0.1:9",  # nothing listens
            factory=lambda venue, config: _recorded_exchange(bars, requests),
            markets=lambda exchange: asyncio.sleep(0),  # the recorded exchange has them
        )  # fmt: skip
        runtime = MarketRuntime(
            Pipeline(engine), [feed], listen_ingest=False, layer=None, venue_history=True
        )
        await runtime.start()
        deadline = time.monotonic() + 30
        while feed.health.state == FeedState.CONNECTING and feed.health.reconnects == 0:
            assert time.monotonic() < deadline, "the feed never went past its history"
            await asyncio.sleep(0.05)
        await runtime.stop()
        await sync_to_async(connections.close_all)()  # the thread's, as the writer does
        return engine

    engine = await start_once()
    since_ms, until_ms = start_window(2, now_ms)
    window = [b for b in bars if since_ms <= b[0] < until_ms]
    assert len(requests) == -(-len(window) // 1000)  # pages of 1,000
    minutes = await sync_to_async(list)(
        Candle.objects.filter(instrument__symbol="BTC-USD", interval="1m").order_by("start")
    )
    assert [int(c.start.timestamp() * 1000) for c in minutes] == [b[0] for b in window]
    assert [c.close for c in minutes] == [Decimal(b[4]) for b in window]
    today = now_ms - now_ms % 86_400_000
    days = await sync_to_async(list)(
        Candle.objects.filter(instrument__symbol="BTC-USD", interval="1d").order_by("start")
    )
    yesterday = [b for b in window if b[0] < today]
    assert days[0].closed and days[0].high == max(Decimal(b[2]) for b in yesterday)
    # The engine: warm indicators, today's candle forming from the stored part of the day,
    # and the quote's previous close the last close before today.
    state = engine.states["BTC-USD"]
    minute = state.series_for("1m")
    assert minute is not None and minute.last_values["sma_3"] is not None
    day = state.series_for("1d")
    todays = [b for b in window if b[0] >= today]
    if todays:  # (none in the first minute of a UTC day)
        assert day is not None and day.builder.forming is not None
        assert day.builder.forming.volume == sum(Decimal(b[5]) for b in todays)
    assert state.quote.prev_close == Decimal(yesterday[-1][4])

    await start_once()
    assert len(requests) == -(-len(window) // 1000)  # candles stored: nothing fetched again
