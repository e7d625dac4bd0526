"""A live market in the test's event loop: a pipeline publishing into the channel layer,
embedded as the process runtime, and the Hub of that loop."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from typing import Any

import orjson
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


class Conn:
    """A Hub subscriber that keeps every message it is sent (no socket, never slow)."""

    wire = "v1"
    batch = True

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def deliver(self, frame: bytes) -> None:
        data = orjson.loads(frame)
        self.messages.extend(data if isinstance(data, list) else [data])

    def backlog(self) -> int:
        return 0

    def check_slow(self) -> None:
        pass


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


ANSWERS = frozenset({"subscribed", "unsubscribed", "result", "error", "pong"})


def closed(communicator: WebsocketCommunicator) -> bool:
    """Whether the server closed the socket (its close waits in the queue, unread)."""
    queue = communicator.output_queue
    return any(m["type"] == "websocket.close" for m in queue._queue)  # type: ignore[attr-defined]


async def _received(communicator: WebsocketCommunicator) -> list[Any]:
    """The messages already waiting for the client (batches flattened), without waiting;
    a close stays in the queue for `receive_output`."""
    out: list[Any] = []
    for _ in range(3):  # the sockets' senders may need a turn or two of the loop
        while not communicator.output_queue.empty():
            if communicator.output_queue._queue[0]["type"] == "websocket.close":  # type: ignore[attr-defined]
                return out
            message = communicator.output_queue.get_nowait()
            data = json.loads(message.get("text") or message["bytes"])
            out.extend(data if isinstance(data, list) else [data])
        await asyncio.sleep(0)
    return out


async def frames(
    communicator: WebsocketCommunicator,
    *,
    expect: Callable[[dict[str, Any]], bool] | None = None,
    timeout: float = 5.0,
) -> list[Any]:
    """The messages that reached the client, batches flattened.

    With `expect`: every message up to the first one it accepts, and what came with it
    (failing after `timeout` with what did come; at once if the server closed the socket).
    Without: what the Hub sent up to and
    including its next flush (every update of what `Market.settle` waited for), so nothing
    that is expected is left to a silence.
    """
    out: list[Any] = []
    if expect is not None:
        try:
            async with asyncio.timeout(timeout):
                while True:
                    got = await _received(communicator)
                    out.extend(got)
                    if any(expect(m) for m in got if isinstance(m, dict)) or closed(communicator):
                        return out
                    await asyncio.sleep(0.002)
        except TimeoutError:
            raise AssertionError(f"no expected message within {timeout} s; got {out}") from None
    hub = _hubs.get(asyncio.get_running_loop())
    if hub is not None and hub.flush_s > 0:
        flushes = hub.flushes
        await until(lambda: hub.flushes > flushes, timeout)
    else:
        await asyncio.sleep(0.05)
    return out + await _received(communicator)


def answer_to(message: dict[str, Any]) -> Callable[[dict[str, Any]], bool]:
    """Accepts the answer to `message`: its id's result, error, pong or (un)subscribed."""
    if "id" not in message:
        return lambda m: m.get("type") == "error"
    return lambda m: m.get("type") in ANSWERS and m.get("id") == message["id"]


async def request(
    communicator: WebsocketCommunicator, message: dict[str, Any], timeout: float = 5.0
) -> list[Any]:
    """Send `message`; the messages up to its answer (a subscribe's snapshots come with it)."""
    await communicator.send_json_to(message)
    return await frames(communicator, expect=answer_to(message), timeout=timeout)


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
