"""The tutorials' endpoints, driven with their tutorials' client messages."""

from __future__ import annotations

from decimal import Decimal

import pytest
from channels.db import database_sync_to_async

from tests.stream.conftest import Market, connect, frames

pytestmark = pytest.mark.django_db(transaction=True)


def _ack(m: dict[str, object]) -> bool:
    return m.get("type") == "ack"


async def test_stocks_streams_the_default_symbol_then_the_one_asked_for(market: Market) -> None:
    market.trade("AAPL", "228.50")
    market.trade("MSFT", "418.20")
    await market.settle()
    ws = await connect("/ws/stocks/")
    first = await frames(ws, expect=lambda m: "symbol" in m)  # its page sends nothing
    assert first == [{"symbol": "AAPL", "price": "228.50", "change": "0"}]
    await ws.send_json_to({"symbol": "MSFT"})  # the tutorial's client message
    got = await frames(ws, expect=lambda m: m.get("symbol") == "MSFT")
    assert got == [{"symbol": "MSFT", "price": "418.20", "change": "0"}]
    market.trade("MSFT", "422.38")
    market.trade("AAPL", "229.00")  # no longer followed
    await market.settle()
    got = await frames(ws)
    assert got == [{"symbol": "MSFT", "price": "422.38", "change": "0.9995"}]  # percent
    await ws.send_json_to({"symbol": "NOPE"})
    error = (await frames(ws, expect=lambda m: m.get("type") == "error"))[0]
    assert (error["type"], error["code"]) == ("error", "unknown_symbol")
    await ws.disconnect()


async def test_cryptocurrency_answers_from_the_stored_price_then_live(market: Market) -> None:
    from tickstream.market.models import Cryptocurrency, Instrument

    def store() -> None:
        from django.utils import timezone

        eth = Instrument.objects.get(symbol="ETH-USD")
        Cryptocurrency.objects.create(
            name="Ethereum", instrument=eth, price=Decimal("2650.12"), timestamp=timezone.now()
        )

    await database_sync_to_async(store)()
    market.trade("BTC-USD", "67250.00")
    await market.settle()
    ws = await connect("/ws/cryptocurrency/")
    got = await frames(ws, expect=lambda m: "name" in m)
    assert [(m["name"], m["price"]) for m in got] == [("Bitcoin", "67250.00")]
    assert got[0]["timestamp"].endswith("+00:00")
    await ws.send_json_to({"cryptocurrency": "Ethereum"})  # the tutorial's client message
    got = await frames(ws, expect=lambda m: m.get("name") == "Ethereum")
    assert [(m["name"], m["price"]) for m in got] == [("Ethereum", "2650.12")]
    market.trade("ETH-USD", "2655.40")
    await market.settle()
    got = await frames(ws)
    assert [(m["name"], m["price"]) for m in got] == [("Ethereum", "2655.40")]
    await ws.send_json_to({"cryptocurrency": "BTC"})  # a symbol works too
    assert (await frames(ws, expect=lambda m: m.get("name") == "Bitcoin"))[0]["name"] == "Bitcoin"
    await ws.disconnect()


async def test_ticker_streams_every_symbol(market: Market) -> None:
    market.trade("AAPL", "228.50")
    market.trade("ETH-USD", "2650.00")
    await market.settle()
    ws = await connect("/ws/ticker/")
    seen: set[str] = set()
    got = await frames(
        ws, expect=lambda m: bool(seen.add(m.get("symbol"))) or {"AAPL", "ETH-USD"} <= seen
    )
    assert {m["symbol"] for m in got} == {"AAPL", "ETH-USD"}
    market.trade("TSLA", "250.10")
    await market.settle()
    got = await frames(ws)
    assert [(m["symbol"], m["price"]) for m in got] == [("TSLA", "250.10")]
    await ws.disconnect()


async def test_stock_updates_broadcasts_and_takes_ticks_only_from_publishers(
    market: Market,
) -> None:
    from django.contrib.auth.models import Permission, User
    from rest_framework.authtoken.models import Token

    def publisher() -> str:
        user = User.objects.create_user("feeder")
        user.user_permissions.add(Permission.objects.get(codename="publish_ticks"))
        return Token.objects.create(user=user).key

    key = await database_sync_to_async(publisher)()
    anonymous = await connect("/ws/stock_updates/")
    feeder = await connect("/ws/stock_updates/", [(b"authorization", f"Token {key}".encode())])
    await frames(anonymous)
    await frames(feeder)
    await anonymous.send_to(text_data='{"symbol": "AAPL", "price": "1"}')
    error = (await frames(anonymous, expect=lambda m: m.get("type") == "error"))[0]
    assert (error["type"], error["code"]) == ("error", "forbidden")
    await feeder.send_json_to({"symbol": "AAPL", "price": "231.05", "size": "10"})
    ack = [m for m in await frames(feeder, expect=_ack) if m.get("type") == "ack"]
    assert ack == [{"type": "ack", "accepted": 1, "rejected": []}]
    got = await frames(anonymous, expect=lambda m: m.get("symbol") == "AAPL")
    got = [m for m in got if m.get("symbol") == "AAPL"]
    assert got and got[-1]["price"] == "231.05"
    assert set(got[-1]["analysis"]) == {"1s", "1m", "5m", "15m", "1h", "1d"}
    await feeder.send_json_to({"symbol": "AAPL", "price": "-5"})
    ack = [m for m in await frames(feeder, expect=_ack) if m.get("type") == "ack"]
    assert ack[0]["accepted"] == 0 and ack[0]["rejected"][0]["code"] == "bad_price"
    await anonymous.disconnect()
    await feeder.disconnect()
