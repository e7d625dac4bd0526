"""Reference: the tutorials' pattern. One Channels consumer per socket joins a group per
symbol; every tick is a `group_send` to the symbol's group, and each consumer JSON-encodes
and sends it to its own client (Channels' InMemoryChannelLayer, as the tutorials use)."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from typing import Any

sys.path.insert(0, __file__.rsplit("/", 2)[0])
os.environ.setdefault("TICKSTREAM_DEVELOPMENT", "true")
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tickstream.settings")

import django  # noqa: E402

django.setup()

from channels.generic.websocket import AsyncWebsocketConsumer  # noqa: E402
from channels.layers import InMemoryChannelLayer  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path  # noqa: E402

from bench.common import run_feed  # noqa: E402

LAYER = InMemoryChannelLayer()


class TutorialConsumer(AsyncWebsocketConsumer):
    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        from channels.utils import await_many_dispatch

        self.scope = scope
        self.channel_layer = LAYER
        self.channel_name = await LAYER.new_channel()
        self.base_send = send
        await await_many_dispatch(
            [receive, lambda: LAYER.receive(self.channel_name)], self.dispatch
        )

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        for symbol in json.loads(text_data or "{}").get("symbols", []):
            await LAYER.group_add(f"naive.{symbol}", self.channel_name)

    async def tick_message(self, event: dict[str, Any]) -> None:
        await self.send(text_data=json.dumps(event["data"]))


_feed: list[asyncio.Task[None]] = []


async def lifespan(scope: Any, receive: Any, send: Any) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            rate, symbols = float(os.environ["BENCH_RATE"]), int(os.environ["BENCH_SYMBOLS"])

            def emit(symbol: str, trade: dict[str, object]) -> None:
                asyncio.get_running_loop().create_task(
                    LAYER.group_send(f"naive.{symbol}", {"type": "tick.message", "data": trade})
                )

            _feed.append(asyncio.create_task(run_feed(symbols, rate, emit)))
            await send({"type": "lifespan.startup.complete"})
        else:
            await send({"type": "lifespan.shutdown.complete"})
            return


application = ProtocolTypeRouter(
    {
        "websocket": URLRouter([path("ws/", TutorialConsumer.as_asgi())]),
        "lifespan": lifespan,
    }
)
