"""Feed health: `GET /api/feeds/` and the `feeds` channel, from the process's runtime."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from rest_framework.test import APIClient

from tests.stream.conftest import Market, connect, frames, request
from tickstream.market import runtime as market_runtime
from tickstream.market.broker import FEEDS_GROUP
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.base import Emit, Feed, supervise
from tickstream.stream.registry import channel_type

pytestmark = pytest.mark.django_db(transaction=True)


class _Venue(Feed):
    """A feed that emits its ticks, then stays connected."""

    kind = "exchange"
    source = "venue"

    def __init__(self, ticks: list[Tick]) -> None:
        self.ticks = ticks

    def symbols(self) -> list[str]:
        return ["AAPL"]

    async def run(self, emit: Emit) -> None:
        for tick in self.ticks:
            emit(tick)
        await asyncio.Event().wait()


def test_the_feeds_channel_publishes_to_the_group_the_stream_registry_names() -> None:
    from tickstream.stream.core.protocol import parse_channel

    kind = channel_type("feeds")
    assert kind is not None and kind.conflate and kind.snapshot is not None
    assert kind.group(parse_channel("feeds", frozenset(), shapes={"feeds": kind.shape}), None) == (
        FEEDS_GROUP
    )


async def test_feed_health_on_the_api_and_the_channel(market: Market) -> None:
    runtime = market_runtime._current
    assert runtime is not None
    now = 1_795_000_000_000_000_000
    feed = _Venue([Tick("AAPL", *map(__import__("decimal").Decimal, ("230.5", "2")), now, now,
                        "venue", "t1")])  # fmt: skip
    runtime.feeds = [feed]
    task = asyncio.create_task(supervise(feed, lambda t: runtime.pipeline.ingest(t, live=False)))
    try:
        await asyncio.sleep(0.05)
        client = APIClient()
        response = await sync_to_async(client.get)("/api/feeds/")
        assert response.status_code == 200
        (health,) = response.json()["feeds"]
        assert {k: health[k] for k in ("kind", "venue", "symbols", "state", "ticks")} == {
            "kind": "exchange", "venue": "venue", "symbols": ["AAPL"], "state": "live",
            "ticks": 1,
        }  # fmt: skip
        assert health["last_message_age_s"] < 5 and health["lagging"] is False
        ws = await connect()
        await frames(ws)
        got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["feeds", "ticker:AAPL"]})
        snapshots: dict[str, Any] = {m["channel"]: m for m in got if m["type"] == "snapshot"}
        assert snapshots["feeds"]["data"]["feeds"][0]["state"] == "live"
        assert snapshots["ticker:AAPL"]["data"]["source"] == "venue"  # the quote's feed
        # What the runtime publishes each second reaches the subscriber as an update.
        feed.health.reconnects = 3
        data = {"feeds": runtime.feeds_health()["feeds"]}
        message = {"type": "stream.publish", "channel": "feeds", "group": FEEDS_GROUP,
                   "data": data, "conflate": True}  # fmt: skip
        await get_channel_layer().group_send(FEEDS_GROUP, message)
        got = await frames(ws, expect=lambda m: m.get("type") == "update")
        updates = [m for m in got if m["type"] == "update"]
        assert updates and updates[-1]["data"]["feeds"][0]["reconnects"] == 3
        await ws.disconnect()
        # Resuming, from the last number this process gave or from one it never gave (the
        # client's server restarted): the whole current value, as a snapshot marked reset.
        last = updates[-1]["seq"]
        for since in (last, 0, last + 500):
            ws = await connect()
            await frames(ws)
            got = await request(
                ws, {"op": "subscribe", "id": 2, "channels": ["feeds"], "since": {"feeds": since}}
            )
            sent = [m for m in got if m.get("channel") == "feeds"]
            assert [m["type"] for m in sent] == ["snapshot"], since
            assert sent[0]["reset"] is True and sent[0]["seq"] == last
            assert sent[0]["data"]["feeds"][0]["reconnects"] == 3
            await ws.disconnect()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
