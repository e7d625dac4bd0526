"""How a web process talks to the market pipeline: the one in this process, or the feed
process's over the channel layer (request and reply on a fresh channel)."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from tickstream.market.messages import tick_dict
from tickstream.market.runtime import current_runtime
from tickstream.market.ticks import Tick
from tickstream.stream.groups import INGEST_CHANNEL, SNAPSHOT_CHANNEL


class PipelineUnavailable(Exception):
    """No pipeline answered: the feed process is not running or not reachable."""


async def _request(channel: str, message: dict[str, Any]) -> dict[str, Any]:
    layer = get_channel_layer()
    if layer is None or settings.FEEDS_MODE != "external":
        raise PipelineUnavailable("no market pipeline runs in this deployment")
    reply = await layer.new_channel()
    await layer.send(channel, {**message, "reply_channel": reply})
    try:
        async with asyncio.timeout(settings.INGEST_REPLY_TIMEOUT_S):
            answer: dict[str, Any] = await layer.receive(reply)
    except TimeoutError:
        raise PipelineUnavailable("the feed process did not answer in time") from None
    return answer


async def ingest_ticks(ticks: list[Tick]) -> list[dict[str, Any] | None]:
    """Run ticks through the pipeline; per tick None (accepted) or its rejection."""
    runtime = current_runtime()
    if runtime is not None:
        return [runtime.ingest(t) for t in ticks]
    answer = await _request(
        INGEST_CHANNEL, {"type": "market.ingest", "ticks": [tick_dict(t) for t in ticks]}
    )
    results: list[dict[str, Any] | None] = answer["results"]
    return results


async def market_snapshot(symbol: str) -> dict[str, Any]:
    """The exact state of a symbol with its sequence numbers."""
    runtime = current_runtime()
    if runtime is not None:
        return runtime.snapshot(symbol)
    return await _request(SNAPSHOT_CHANNEL, {"type": "market.snapshot", "symbol": symbol})
