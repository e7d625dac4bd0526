"""Ticks pushed over HTTP, handed to the pipeline of this process or of the feed process."""

from __future__ import annotations

import asyncio
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from tickstream.market.messages import tick_dict
from tickstream.market.runtime import current_runtime
from tickstream.market.ticks import Tick
from tickstream.stream.groups import INGEST_CHANNEL


class PipelineUnavailable(Exception):
    """No pipeline answered: the feed process is not running or not reachable."""


async def ingest_ticks(ticks: list[Tick]) -> list[dict[str, Any] | None]:
    """Run ticks through the pipeline; per tick None (accepted) or its rejection."""
    runtime = current_runtime()
    if runtime is not None:
        return [runtime.ingest(t) for t in ticks]
    layer = get_channel_layer()
    if layer is None or settings.FEEDS_MODE != "external":
        raise PipelineUnavailable("no market pipeline runs in this deployment")
    reply = await layer.new_channel()
    await layer.send(
        INGEST_CHANNEL,
        {
            "type": "market.ingest",
            "reply_channel": reply,
            "ticks": [tick_dict(t) for t in ticks],
        },
    )
    try:
        async with asyncio.timeout(settings.INGEST_REPLY_TIMEOUT_S):
            answer = await layer.receive(reply)
    except TimeoutError:
        raise PipelineUnavailable("the feed process did not answer in time") from None
    results: list[dict[str, Any] | None] = answer["results"]
    return results
