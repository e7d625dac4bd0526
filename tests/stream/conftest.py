"""A live market in the test's event loop: a pipeline publishing into the channel layer,
embedded as the process runtime, and the Hub of that loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from tests.conftest import embedded
from tickstream.asgi import application
from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.pipeline import Pipeline, Publisher
from tickstream.market.selectors import instrument_specs
from tickstream.stream.hub import _hubs, stop_hub

ORIGIN = (b"origin", b"http://127.0.0.1")


class Market:
    """Drives the pipeline from a test: `trade("AAPL", "230.5")`."""

    def __init__(self, pipeline: Pipeline) -> None:
        self.pipeline = pipeline
        self.clock = 1_795_000_000 * NS_PER_S

    def trade(self, symbol: str, price: str, size: str = "1", *, step: float = 0.25) -> None:
        self.clock += int(step * NS_PER_S)
        problem = self.pipeline.ingest(
            Tick(symbol, Decimal(price), Decimal(size), self.clock, self.clock, "test"),
            live=False,
        )
        assert problem is None, problem

    async def delivered(self, timeout: float = 5.0) -> None:
        """Wait until every trade has left the publisher and the Hub has read it."""
        publisher, pipeline = self.pipeline.publisher, self.pipeline
        assert publisher is not None
        await until(
            lambda: (
                pipeline.pending_trades() == 0
                and publisher.sent + publisher.dropped + publisher.failed >= publisher.offered
            ),
            timeout,
        )
        hub = _hubs.get(asyncio.get_running_loop())
        if hub is not None:
            queue = get_channel_layer().channels.get(hub._channel)
            await until(lambda: queue is None or queue.empty(), timeout)

    async def settle(self, timeout: float = 5.0) -> None:
        """Wait until what was traded has passed the publisher and the Hub and a flush has
        sent it (events, not a fixed sleep)."""
        await self.delivered(timeout)
        hub = _hubs.get(asyncio.get_running_loop())
        if hub is not None and hub.flush_s > 0:
            flushes = hub.flushes
            await until(lambda: hub.flushes > flushes, timeout)


async def until(check: Any, timeout: float = 5.0) -> None:
    """Poll `check()` (cheaply, on the event loop) until it is true; fail after `timeout`."""
    async with asyncio.timeout(timeout):
        while not check():  # noqa: ASYNC110 - counters and queues here have no event to await
            await asyncio.sleep(0.002)


@pytest.fixture
async def market(instruments: None) -> AsyncIterator[Market]:
    layer = get_channel_layer()
    await layer.flush()
    specs = await database_sync_to_async(instrument_specs)()
    engine = MarketEngine(
        specs, STANDARD_INTERVALS, parse_indicators("sma:2,rsi:2"), max_delay_s=None
    )
    publisher = Publisher(layer.group_send)
    pipeline = Pipeline(engine, publisher=publisher, analysis_every_ms=0)
    task = asyncio.create_task(publisher.run())
    with embedded(pipeline, layer):
        yield Market(pipeline)
        await stop_hub()
        await publisher.stop()
        await task
    await layer.flush()


async def connect(
    path: str = "/ws/v1/", headers: list[tuple[bytes, bytes]] | None = None
) -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(application, path, headers=[ORIGIN, *(headers or [])])
    connected, code = await communicator.connect()
    assert connected, code
    return communicator


async def frames(communicator: WebsocketCommunicator, *, timeout: float = 1.0) -> list[Any]:
    """Every message received until `timeout` passes in silence, batches flattened."""
    out: list[Any] = []
    while not await communicator.receive_nothing(timeout=timeout, interval=0.01):
        data = json.loads(await communicator.receive_from(timeout=1))
        out.extend(data if isinstance(data, list) else [data])
        timeout = min(timeout, 0.3)
    return out


async def request(
    communicator: WebsocketCommunicator, message: dict[str, Any], timeout: float = 1.0
) -> list[Any]:
    await communicator.send_json_to(message)
    return await frames(communicator, timeout=timeout)


@contextlib.asynccontextmanager
async def serve(**options: Any) -> AsyncIterator[str]:
    """The real server (uvicorn with tickstream's options, `options` on top) in this test's
    event loop; yields `host:port`."""
    import uvicorn
    from django.conf import settings

    from tests.support import free_port
    from tickstream.stream.server import uvicorn_options

    port = free_port()
    config = uvicorn.Config(
        application,
        host="127.0.0.1",
        port=port,
        lifespan="off",
        log_level="warning",
        **{**uvicorn_options(settings), **options},
    )
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    for _ in range(500):  # uvicorn offers no event for it
        if served.started or task.done():
            break
        await asyncio.sleep(0.01)
    if not served.started:
        served.should_exit = True
        await task  # raises what stopped it
        raise AssertionError("the server did not start")
    try:
        yield f"127.0.0.1:{port}"
    finally:
        served.should_exit = True
        await task
