"""`manage.py backfill`: real Binance candles (freqtrade's recorded 1-minute klines, read
from ../shared/data) through ccxt's own Binance kline parser, stored and rolled up."""

from __future__ import annotations

import json
from decimal import Decimal
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from tests.conftest import shared_data
from tickstream.market.core.ticks import ns_to_datetime
from tickstream.market.feeds.exchange import make_exchange
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


def test_backfill_stores_the_venue_candles_and_their_roll_ups(
    instruments: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = shared_data("freqtrade", "UNITTEST_BTC-1m.json").read_text()
    bars = json.loads(text, parse_float=str)[:1500]  # 25 hours; numbers kept as their text
    requests: list[dict[str, Any]] = []
    monkeypatch.setattr(
        "tickstream.market.management.commands.backfill.make_exchange",
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
    hours = Candle.objects.filter(instrument__symbol="BTC-USD", interval="1h").order_by("start")
    first_hour = [b for b in bars if int(b[0]) // 3_600_000 == int(bars[0][0]) // 3_600_000]
    top = hours.first()
    assert top is not None and top.high == max(Decimal(b[2]) for b in first_hour)
    assert top.volume == sum(Decimal(b[5]) for b in first_hour)
    assert "candles fetched" in out.getvalue() and "100%" in out.getvalue()


def test_backfill_names_what_is_missing(instruments: None) -> None:
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="no exchange feed prices BTC-USD"):
        call_command("backfill", "BTC-USD", "--since", "2026-01-01", "--feeds", "simulated")
    with pytest.raises(CommandError, match="--since must be before"):
        call_command("backfill", "BTC-USD", "--since", "2026-01-02", "--until", "2026-01-01",
                     "--feeds", "exchange venue=binance symbols=BTC/USDT map=BTC-USD")  # fmt: skip
