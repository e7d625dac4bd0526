"""The channel registry: a kind registered by an app (here a test's) is subscribable with
its owner check, snapshot and conflation, without any change to `stream/`."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.factories import user_with_token
from tests.stream.conftest import Market, connect, frames, request
from tickstream.stream import publish as publish_module
from tickstream.stream import registry
from tickstream.stream.core.protocol import ChannelRef, ChannelShape
from tickstream.stream.publish import PublishError, apublish, publish
from tickstream.stream.registry import PublishedKind, RegistryError, SequencedKind, register

pytestmark = pytest.mark.django_db(transaction=True)


async def _own(user: Any, ref: ChannelRef) -> bool:
    return str(user.pk) == ref.key


def _first(user: Any, ref: ChannelRef) -> Any:
    return {"value": 0, "for": ref.key}


@pytest.fixture
def watch_kind() -> Iterator[None]:
    register(
        PublishedKind(
            ChannelShape("watch", ("id",)),
            needs_user=True,
            owner=_own,
            snapshot=_first,
            conflate=True,
        )
    )
    yield
    registry._types.pop("watch")


async def test_an_app_registered_kind_is_served_with_its_owner_check_snapshot_and_conflation(
    market: Market, watch_kind: None
) -> None:
    (alice, alice_key), (_, bob_key) = [
        await database_sync_to_async(user_with_token)() for _ in range(2)
    ]
    channel = f"watch:{alice.pk}"
    ws = await connect(f"/ws/v1/?token={alice_key}")
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": [channel]})
    assert [m["type"] for m in got] == ["subscribed", "snapshot"]
    assert got[1]["data"] == {"value": 0, "for": str(alice.pk)} and got[1]["seq"] == 0
    for value in (1, 2, 3):
        publish(channel, {"value": value})
    got = await frames(ws, expect=lambda m: m.get("data") == {"value": 3})
    updates = [m for m in got if m["type"] == "update"]
    assert [(m["seq"], m["data"]) for m in updates] == [(3, {"value": 3})]  # conflated
    # Another user, and nobody, may not read it; a kind nobody registered is unknown.
    other = await connect(f"/ws/v1/?token={bob_key}")
    await frames(other)
    refused = await request(other, {"op": "subscribe", "id": 2, "channels": [channel]})
    assert [(m["type"], m["code"]) for m in refused] == [("error", "forbidden")]
    anonymous = await connect()
    await frames(anonymous)
    refused = await request(anonymous, {"op": "subscribe", "id": 3, "channels": [channel]})
    assert [(m["type"], m["code"]) for m in refused] == [("error", "forbidden")]
    refused = await request(anonymous, {"op": "subscribe", "id": 4, "channels": ["nope:1"]})
    assert [(m["type"], m["code"]) for m in refused] == [("error", "unknown_channel")]
    for client in (ws, other, anonymous):
        await client.disconnect()


def test_a_kind_is_registered_once_unless_replaced() -> None:
    kind = SequencedKind(ChannelShape("orders"), needs_user=True)
    with pytest.raises(RegistryError):
        register(kind)
    original = registry.channel_type("orders")
    try:
        register(kind, replace=True)
        assert registry.channel_type("orders") is kind
    finally:
        register(original, replace=True)  # type: ignore[arg-type]


class _BrokenLayer:
    async def group_send(self, group: str, message: dict) -> None:
        raise ConnectionError("the broker went away")


async def test_publish_from_async_code_reports_a_failure(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(publish_module, "get_channel_layer", lambda: _BrokenLayer())
    before = publish_module.failures
    publish("news", {"headline": "x"})
    await asyncio.wait(set(publish_module._sending))  # the send runs in a task held by publish
    await asyncio.sleep(0)  # its done callback
    assert publish_module.failures == before + 1
    assert "publish failed" in caplog.text and "the broker went away" in caplog.text
    with pytest.raises(ConnectionError):
        await apublish("news", {"headline": "y"})
    with pytest.raises(PublishError):
        await apublish("trades:AAPL", {})
