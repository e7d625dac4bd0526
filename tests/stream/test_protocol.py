"""Websocket protocol v1 through the real router and the Hub."""

from __future__ import annotations

import asyncio
import json

import pytest

from tests.stream.conftest import Market, connect, frames, request

pytestmark = pytest.mark.django_db(transaction=True)


async def test_snapshot_then_ordered_updates(market: Market) -> None:
    market.trade("AAPL", "230.00")
    await market.settle()
    ws = await connect()
    welcome = await frames(ws)
    assert welcome[0]["type"] == "welcome" and welcome[0]["version"] == 1
    got = await request(
        ws,
        {"op": "subscribe", "id": 1, "channels": ["ticker:AAPL", "trades:AAPL", "candles:AAPL:1m"]},
    )
    assert got[0] == {
        "type": "subscribed",
        "id": 1,
        "channels": ["ticker:AAPL", "trades:AAPL", "candles:AAPL:1m"],
    }
    snaps = {m["channel"]: m for m in got[1:]}
    assert snaps["ticker:AAPL"]["type"] == "snapshot" and snaps["ticker:AAPL"]["seq"] == 1
    assert snaps["ticker:AAPL"]["data"]["last"] == "230.00"
    assert snaps["candles:AAPL:1m"]["data"]["candle"]["close"] == "230.00"
    for price in ("230.10", "230.20", "229.90"):
        market.trade("AAPL", price)
    await market.settle()
    updates = [m for m in await frames(ws) if m["type"] == "update"]
    trades = [m for m in updates if m["channel"] == "trades:AAPL"]
    assert [m["seq"] for m in trades] == [2, 3, 4]  # every trade, in order
    assert [m["data"]["price"] for m in trades] == ["230.10", "230.20", "229.90"]
    ticker = [m for m in updates if m["channel"] == "ticker:AAPL"]
    assert ticker[-1]["seq"] == 4 and ticker[-1]["data"]["last"] == "229.90"
    assert [m["seq"] for m in ticker] == sorted(m["seq"] for m in ticker)
    await ws.disconnect()


async def test_errors_have_codes_and_echo_the_request_id(market: Market) -> None:
    ws = await connect()
    await frames(ws)
    cases = [
        ({"op": "subscribe", "id": 2, "channels": ["ticker:NOPE"]}, "unknown_symbol"),
        ({"op": "subscribe", "id": 3, "channels": ["weather:AAPL"]}, "unknown_channel"),
        ({"op": "subscribe", "id": 4, "channels": ["candles:AAPL:7m"]}, "bad_interval"),
        ({"op": "subscribe", "id": 5, "channels": []}, "bad_frame"),
        ({"op": "dance", "id": 6}, "unknown_op"),
        ({"op": "subscribe", "id": 7, "channels": ["orders"]}, "forbidden"),
        ({"op": "unsubscribe", "id": 8, "channels": ["ticker:MSFT"]}, "not_subscribed"),
    ]
    for message, code in cases:
        got = await request(ws, message)
        assert got[-1]["type"] == "error", got
        assert (got[-1]["code"], got[-1]["id"]) == (code, message["id"])
        assert got[-1]["message"]
    await ws.send_to(text_data="{not json")
    assert (await frames(ws))[0]["code"] == "bad_json"
    await ws.send_to(text_data='{"op": "ping", "pad": "' + "x" * 20_000 + '"}')
    assert (await frames(ws))[0]["code"] == "frame_too_large"
    got = await request(ws, {"op": "ping", "id": 9})
    assert got[0]["type"] == "pong" and got[0]["id"] == 9
    await ws.disconnect()


async def test_subscribe_is_all_or_nothing(market: Market) -> None:
    market.trade("MSFT", "418.00")
    await market.settle()
    ws = await connect()
    await frames(ws)
    got = await request(
        ws, {"op": "subscribe", "id": 1, "channels": ["ticker:MSFT", "ticker:NOPE"]}
    )
    assert [m["type"] for m in got] == ["error"]
    got = await request(ws, {"op": "unsubscribe", "id": 2, "channels": ["ticker:MSFT"]})
    assert got[0]["code"] == "not_subscribed"
    await ws.disconnect()


async def test_unsubscribe_is_all_or_nothing(market: Market) -> None:
    """A refused unsubscribe (one channel not subscribed) once removed the others anyway."""
    market.trade("MSFT", "418.00")
    await market.settle()
    ws = await connect()
    await frames(ws)
    await request(ws, {"op": "subscribe", "id": 1, "channels": ["ticker:MSFT", "trades:MSFT"]})
    got = await request(
        ws, {"op": "unsubscribe", "id": 2, "channels": ["ticker:MSFT", "ticker:AAPL"]}
    )
    assert [(m["type"], m["code"], m["id"]) for m in got] == [("error", "not_subscribed", 2)]
    market.trade("MSFT", "418.50")
    await market.settle()
    updates = {m["channel"] for m in await frames(ws) if m["type"] == "update"}
    assert updates == {"ticker:MSFT", "trades:MSFT"}  # both still followed
    got = await request(
        ws, {"op": "unsubscribe", "id": 3, "channels": ["ticker:MSFT", "trades:MSFT"]}
    )
    assert got == [{"type": "unsubscribed", "id": 3, "channels": ["ticker:MSFT", "trades:MSFT"]}]
    await ws.disconnect()


async def test_too_many_messages_is_rate_limited_then_closed(market: Market) -> None:
    ws = await connect()
    await frames(ws)
    for i in range(70):
        await ws.send_json_to({"op": "ping", "id": i})
    got, closed = [], None
    while closed is None:
        output = await ws.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            closed = output
        else:
            data = json.loads(output["text"])
            got.extend(data if isinstance(data, list) else [data])
    assert sum(m["type"] == "pong" for m in got) >= 40  # the burst allowance
    errors = [m for m in got if m["type"] == "error"]
    assert {m["code"] for m in errors} == {"rate_limited"} and len(errors) == 20
    assert closed == {"type": "websocket.close", "code": 4029}


async def test_resume_with_history_sends_only_what_was_missed(market: Market) -> None:
    market.trade("AAPL", "230.00")
    await market.settle()
    ws = await connect()
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["trades:AAPL"]})
    epoch = got[1]["epoch"]
    await ws.disconnect()
    for price in ("231", "232", "233"):
        market.trade("AAPL", price)
    ws = await connect()  # the Hub still carries AAPL? no: it left with the last subscriber
    await frames(ws)
    keeper = await connect()
    await request(keeper, {"op": "subscribe", "id": 1, "channels": ["trades:AAPL"]})
    got = await request(
        ws,
        {
            "op": "subscribe",
            "id": 2,
            "channels": ["trades:AAPL"],
            "since": {"trades:AAPL": 1},
            "epoch": epoch,
        },
    )
    # The Hub rejoined after the trades, so it has no history of them: a reset snapshot.
    assert got[1]["type"] == "snapshot" and got[1]["reset"] is True and got[1]["seq"] == 4
    await ws.disconnect()
    market.trade("AAPL", "234")
    market.trade("AAPL", "235")
    await market.settle()
    ws = await connect()
    await frames(ws)
    got = await request(
        ws,
        {
            "op": "subscribe",
            "id": 3,
            "channels": ["trades:AAPL"],
            "since": {"trades:AAPL": 4},
            "epoch": epoch,
        },
    )
    assert [(m["type"], m.get("seq")) for m in got[1:]] == [("update", 5), ("update", 6)]
    assert [m["data"]["price"] for m in got[1:]] == ["234", "235"]
    await ws.disconnect()
    await keeper.disconnect()


async def test_per_user_channels_refuse_others_and_deliver_to_their_owner(market: Market) -> None:
    from channels.db import database_sync_to_async
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from tickstream.stream.publish import publish

    def make(name: str) -> tuple[object, str]:
        user = User.objects.create_user(name)
        return user, Token.objects.create(user=user).key

    alice, alice_key = await database_sync_to_async(make)("alice")
    bob, bob_key = await database_sync_to_async(make)("bob")
    a = await connect(headers=[(b"authorization", f"Token {alice_key}".encode())])
    b = await connect(f"/ws/v1/?token={bob_key}")
    assert (await frames(a))[0]["user"] == alice.pk  # type: ignore[attr-defined]
    await frames(b)
    for ws in (a, b):
        got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
        assert got[0]["type"] == "subscribed"
    got = await request(a, {"op": "subscribe", "id": 2, "channels": ["portfolio:1"]})
    assert got[0]["code"] == "forbidden"
    await database_sync_to_async(publish)("orders", {"id": 7, "status": "filled"}, user=alice)
    got_a = await frames(a, expect=lambda m: m.get("type") == "update")
    got_b = await frames(b)
    assert [(m["channel"], m["data"]) for m in got_a] == [("orders", {"id": 7, "status": "filled"})]
    assert got_b == []
    await a.disconnect()
    await b.disconnect()


async def test_too_many_subscriptions_is_refused(market: Market) -> None:
    from tickstream.market.core.instruments import DEFAULT_UNIVERSE

    names = [
        f"candles:{s.symbol}:{i}"
        for s in DEFAULT_UNIVERSE
        for i in ("1s", "1m", "5m", "15m", "1h", "1d")
    ]
    assert len(names) > 200
    ws = await connect()
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": names[:201]})
    assert (got[-1]["type"], got[-1]["code"]) == ("error", "too_many_subscriptions")
    await ws.disconnect()


async def test_no_pipeline_means_unavailable_at_once(
    instruments: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tickstream.stream import hub
    from tickstream.stream.hub import stop_hub

    # Waiting for a snapshot would now outlast the request's own wait: the answer must not.
    monkeypatch.setattr(hub, "SNAPSHOT_TIMEOUT_S", 60.0)
    ws = await connect()  # no market runtime in this process, none reachable
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["ticker:AAPL"]})
    assert got and (got[-1].get("code"), got[-1].get("id")) == ("unavailable", 1), got
    await ws.disconnect()
    await stop_hub()


async def test_a_client_that_stays_behind_is_closed_with_4008(
    market: Market, settings: object
) -> None:
    from tickstream.stream.consumers import StreamConsumer
    from tickstream.stream.hub import STREAM_HIGH_WATER

    settings.STREAM_SLOW_CLOSE_S = 0.05  # type: ignore[attr-defined]
    ws = await connect()
    await frames(ws)
    consumer = next(c for c in (await _hub()).connections if isinstance(c, StreamConsumer))
    stuck = asyncio.Event()

    async def never_written(frame: bytes) -> None:  # the client stops reading
        await stuck.wait()

    consumer._write = never_written
    for _ in range(STREAM_HIGH_WATER + 2):  # one in flight, the rest queued
        consumer.deliver(b"[]")
    await asyncio.sleep(0.1)
    consumer.deliver(b"[]")
    output = await ws.receive_output(timeout=1)
    assert output == {"type": "websocket.close", "code": 4008}
    assert consumer.backlog() == 0  # its queue is released


async def _hub():  # type: ignore[no-untyped-def]
    from tickstream.stream.hub import get_hub

    return await get_hub()
