"""The one-process channel layer keeps Channels' semantics without copying messages."""

from __future__ import annotations

import asyncio

import pytest
from channels.exceptions import ChannelFull

from tickstream.stream.layers import LocalChannelLayer


async def test_group_send_reaches_every_member_in_order() -> None:
    layer = LocalChannelLayer()
    a, b, outsider = [await layer.new_channel() for _ in range(3)]
    await layer.group_add("md.X", a)
    await layer.group_add("md.X", b)
    for i in range(3):
        await layer.group_send("md.X", {"type": "market.tick", "seq": i})
    assert [(await layer.receive(a))["seq"] for _ in range(3)] == [0, 1, 2]
    assert [(await layer.receive(b))["seq"] for _ in range(3)] == [0, 1, 2]
    await layer.group_discard("md.X", b)
    await layer.group_send("md.X", {"type": "market.tick", "seq": 3})
    assert (await layer.receive(a))["seq"] == 3
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.05):
            await layer.receive(outsider)


async def test_a_full_member_is_counted_and_others_still_receive(
    caplog: pytest.LogCaptureFixture,
) -> None:
    layer = LocalChannelLayer(capacity=2)
    slow, fast = await layer.new_channel(), await layer.new_channel()
    await layer.group_add("g", slow)
    await layer.group_add("g", fast)
    for i in range(3):
        await layer.group_send("g", {"type": "t", "n": i})
        await layer.receive(fast)
    assert layer.dropped == 1 and "group messages dropped" in caplog.text
    with pytest.raises(ChannelFull):
        await layer.send(slow, {"type": "t"})


async def test_expired_messages_and_their_channels_are_swept() -> None:
    layer = LocalChannelLayer(expiry=0, sweep_interval=0)
    stale = await layer.new_channel()
    await layer.group_add("g", stale)
    await layer.send(stale, {"type": "t"})
    await asyncio.sleep(0.01)
    layer._sweep()  # what every receive and group_send does, at most once per interval
    assert stale not in layer.channels and stale not in layer.groups.get("g", {})


async def test_messages_must_be_dicts() -> None:
    layer = LocalChannelLayer()
    with pytest.raises(TypeError):
        await layer.send("c", ["not", "a", "dict"])  # type: ignore[arg-type]


async def test_request_channels_carry_the_deployments_prefix() -> None:
    """The Redis layer leaves named channels unprefixed: two deployments on one Redis must
    still not answer each other's ingest and snapshot requests."""
    from channels_redis.pubsub import RedisPubSubChannelLayer

    from tickstream.market.broker import INGEST_CHANNEL, request_channel
    from tickstream.stream.layers import LocalChannelLayer

    one = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:6379"], prefix="tsaaa")
    two = RedisPubSubChannelLayer(hosts=["redis://127.0.0.1:6379"], prefix="tsbbb")
    assert request_channel(one, INGEST_CHANNEL) == "tsaaa.market.ingest"
    assert request_channel(one, INGEST_CHANNEL) != request_channel(two, INGEST_CHANNEL)
    assert request_channel(LocalChannelLayer(), INGEST_CHANNEL) == "market.ingest"
