"""Every message the server sends matches its schema in tickstream/stream/schemas.py."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest
from channels.db import database_sync_to_async

from tests.stream.conftest import Market, connect, frames, request
from tickstream.stream.schemas import SEED_MESSAGES, SERVER_MESSAGES, data_schema

pytestmark = pytest.mark.django_db(transaction=True)


def check_v1(messages: list[dict[str, Any]], seen: set[str]) -> None:
    for m in messages:
        jsonschema.validate(m, SERVER_MESSAGES[m["type"]])
        data = data_schema(m)
        if data is not None and m["type"] in ("snapshot", "update"):
            jsonschema.validate(m["data"], data)
        seen.add(m["type"])


async def test_v1_traffic_matches_the_schemas(market: Market, monkeypatch: Any) -> None:
    from tickstream.stream import registry
    from tickstream.stream.core import views
    from tickstream.stream.hub import get_hub

    async def echo(user: Any, frame: dict[str, Any]) -> Any:
        if frame.get("fail"):
            raise registry.OperationError("bad_echo", "asked to fail", {"field": "fail"})
        return {"echo": frame.get("text")}

    monkeypatch.setitem(registry._operations, "test.echo", echo)  # an app's operation

    market.trade("AAPL", "230.00")
    await market.settle()
    seen: set[str] = set()
    ws = await connect()
    check_v1(await frames(ws), seen)
    channels = ["ticker:AAPL", "trades:AAPL", "candles:AAPL:1s", "analysis:AAPL"]
    check_v1(await request(ws, {"op": "subscribe", "id": "a", "channels": channels}), seen)
    for i in range(12):
        market.trade("AAPL", f"230.{i:02d}", step=0.3)
    await market.settle()
    check_v1(await frames(ws), seen)
    check_v1(await request(ws, {"op": "ping", "id": 5}), seen)
    check_v1(await request(ws, {"op": "bogus"}), seen)
    got = await request(ws, {"op": "test.echo", "id": 9, "text": "hi"})
    assert got == [{"type": "result", "id": 9, "op": "test.echo", "data": {"echo": "hi"}}]
    check_v1(got, seen)
    check_v1(await request(ws, {"op": "test.echo", "id": 10, "fail": True}), seen)
    check_v1(await request(ws, {"op": "unsubscribe", "id": 6, "channels": ["ticker:AAPL"]}), seen)
    hub = await get_hub()
    hub.beat()
    monkeypatch.setattr(views, "MAX_TRADES_PER_FLUSH", 2)  # force a gap notice
    for _ in range(6):
        market.trade("AAPL", "231", step=0.01)
    await market.settle()
    check_v1(await frames(ws), seen)
    assert seen == set(SERVER_MESSAGES), set(SERVER_MESSAGES) - seen
    await ws.disconnect()


async def test_tutorial_traffic_matches_the_schemas(market: Market) -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    market.trade("AAPL", "228.50")
    market.trade("BTC-USD", "67250.00")
    await market.settle()
    checked = set()
    for path, kind in [
        ("/ws/stocks/", "stocks"),
        ("/ws/cryptocurrency/", "cryptocurrency"),
        ("/ws/ticker/", "ticker"),
        ("/ws/stock_updates/", "stock_updates"),
    ]:
        ws = await connect(path)
        got = await frames(ws, expect=lambda m: True)  # each endpoint greets with its data
        assert got, path
        for m in got:
            jsonschema.validate(m, SEED_MESSAGES[kind])
        checked.add(kind)
        await ws.disconnect()

    def staff_token() -> str:
        return Token.objects.create(user=User.objects.create_user("s", is_staff=True)).key

    key = await database_sync_to_async(staff_token)()
    ws = await connect("/ws/stock_updates/", [(b"authorization", f"Token {key}".encode())])
    await frames(ws)
    await ws.send_json_to({"symbol": "AAPL", "price": "229"})
    got = await frames(ws, expect=lambda m: m.get("type") == "ack")
    acks = [m for m in got if m.get("type") == "ack"]
    jsonschema.validate(acks[0], SEED_MESSAGES["ack"])
    checked.add("ack")
    assert checked == set(SEED_MESSAGES)
    await ws.disconnect()
