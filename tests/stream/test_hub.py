"""Hub behaviour: snapshot + updates = fresh snapshot, conflation, slow clients, publish."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from tests.stream.conftest import Market, connect, frames, request
from tickstream.stream.hub import STREAM_HIGH_WATER, get_hub

pytestmark = pytest.mark.django_db(transaction=True)
CHANNELS = ["ticker:AAPL", "trades:AAPL", "candles:AAPL:1s", "candles:AAPL:1m", "analysis:AAPL"]


def apply(state: dict[str, Any], message: dict[str, Any]) -> None:
    """A client's model: snapshots replace, updates of state channels replace, candles keep
    their closed history, trades append."""
    channel = message["channel"]
    kind = channel.split(":")[0]
    if message["type"] == "snapshot":
        state[channel] = {"seq": message["seq"], "data": message["data"], "closed": []}
        return
    entry = state[channel]
    if message["seq"] <= entry["seq"] and kind != "analysis":
        return
    if kind == "trades":
        entry["data"] = [*entry["data"], message["data"]][-256:]
    elif kind == "candles":
        entry["closed"] += message["data"]["closed"]
        entry["data"] = {"candle": message["data"]["candle"], "closed": []}
    else:
        entry["data"] = message["data"]
    entry["seq"] = message["seq"]


async def test_old_snapshot_plus_updates_equals_a_fresh_snapshot(market: Market) -> None:
    market.trade("AAPL", "230.00")
    await market.settle()
    old = await connect()
    await frames(old)
    state: dict[str, Any] = {}
    for m in (await request(old, {"op": "subscribe", "id": 1, "channels": CHANNELS}))[1:]:
        apply(state, m)
    prices = ["230.10", "229.80", "231.00", "230.55", "230.70", "229.95", "230.20"]
    for i, price in enumerate(prices * 3):
        market.trade("AAPL", price, size=str(i + 1), step=0.4)  # 1s candles close as we go
        if i % 5 == 0:
            await market.settle()  # spread over several flushes
    await market.settle()
    for m in await frames(old):
        if m["type"] in ("update", "snapshot"):
            apply(state, m)
    fresh = await connect()
    await frames(fresh)
    snapshot = {
        m["channel"]: m
        for m in (await request(fresh, {"op": "subscribe", "id": 1, "channels": CHANNELS}))[1:]
    }
    for channel in CHANNELS:
        assert state[channel]["seq"] == snapshot[channel]["seq"], channel
        assert state[channel]["data"] == snapshot[channel]["data"], channel
    assert len(state["candles:AAPL:1s"]["closed"]) >= 7  # closed candles were not lost
    await old.disconnect()
    await fresh.disconnect()


class SlowReader:
    """A subscriber that never reads: everything stays queued."""

    wire = "v1"
    batch = True

    def __init__(self) -> None:
        self.frames: list[bytes] = []

    def deliver(self, frame: bytes) -> None:
        self.frames.append(frame)

    def backlog(self) -> int:
        return len(self.frames)

    def check_slow(self) -> None:
        pass


async def test_a_slow_reader_is_skipped_then_caught_up_without_silent_gaps(market: Market) -> None:
    from tickstream.stream.core.protocol import ChannelKind, ChannelRef

    market.trade("AAPL", "230.00")
    await market.settle()
    hub = await get_hub()
    slow = SlowReader()
    await hub.subscribe(slow, ChannelRef("trades:AAPL", ChannelKind.TRADES, "AAPL"))
    await hub.subscribe(slow, ChannelRef("ticker:AAPL", ChannelKind.TICKER, "AAPL"))
    fast = await connect()
    await frames(fast)
    await request(fast, {"op": "subscribe", "id": 1, "channels": ["trades:AAPL"]})
    for i in range(40):
        market.trade("AAPL", f"{230 + i / 100:.2f}")
        await market.delivered()
        hub.flush()
    await market.settle()
    assert len(slow.frames) == STREAM_HIGH_WATER + 1  # nothing more queued once behind
    assert hub.is_slow(slow)
    got = [m for m in await frames(fast) if m.get("channel") == "trades:AAPL"]
    assert [m["seq"] for m in got if m["type"] == "update"] == list(range(2, 42))  # unharmed
    slow.frames.clear()
    hub.drained(slow)  # it read everything: one catch-up frame
    catch_up = orjson.loads(slow.frames[0])
    trades = [m for m in catch_up if m["channel"] == "trades:AAPL"]
    ticker = [m for m in catch_up if m["channel"] == "ticker:AAPL"]
    assert ticker[-1]["seq"] == 41 and ticker[-1]["data"]["last"] == "230.39"
    seqs = [m["seq"] for m in trades if m["type"] == "update"]
    assert seqs == list(range(seqs[0], 42))  # contiguous up to now: no silent gap
    await fast.disconnect()


async def test_publish_is_delivered_on_commit_and_never_on_rollback(market: Market) -> None:
    from django.contrib.auth.models import User
    from rest_framework.authtoken.models import Token

    from tickstream.stream.publish import PublishError, publish

    def make() -> tuple[User, str]:
        user = User.objects.create_user("carol")
        return user, Token.objects.create(user=user).key

    user, key = await database_sync_to_async(make)()
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    await request(ws, {"op": "subscribe", "id": 1, "channels": ["alerts"]})

    def in_transactions() -> None:
        with transaction.atomic():
            publish("alerts", {"n": 1}, user=user)
        try:
            with transaction.atomic():
                publish("alerts", {"n": 2}, user=user)
                raise RuntimeError("rolled back")
        except RuntimeError:
            pass

    await database_sync_to_async(in_transactions)()
    publish("alerts", {"n": 3}, user=user)  # from async code, outside a transaction
    got = await frames(ws, expect=lambda m: m.get("data") == {"n": 3})
    assert [(m["seq"], m["data"]) for m in got] == [(1, {"n": 1}), (2, {"n": 3})]
    with pytest.raises(PublishError):
        publish("ticker:AAPL", {})
    with pytest.raises(PublishError):
        publish("orders", {})
    await ws.disconnect()
