"""The Alpaca stock feed against a local server speaking Alpaca's documented market-data
stream protocol (v2): connect, auth, subscribe, trade arrays; errors by code."""

from __future__ import annotations

import asyncio
import contextlib
import json
from decimal import Decimal
from typing import Any

import pytest
from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from tests.market.feeds.support import collect_ticks
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.alpaca import AlpacaFeed, rfc3339_ns
from tickstream.market.feeds.base import supervise
from tickstream.market.feeds.health import FeedState

pytestmark = pytest.mark.timeout(30)

# The trade message of Alpaca's documentation, and two more of the same shape.
TRADES = [
    {"T": "t", "S": "AAPL", "i": 96921, "x": "D", "p": 126.55, "s": 1,
     "t": "2021-02-22T15:51:44.208Z", "c": ["@", "I"], "z": "C"},
    {"T": "t", "S": "MSFT", "i": 52983525029461, "x": "V", "p": 411.2, "s": 100,
     "t": "2024-03-01T14:30:00.123456789Z", "c": ["@"], "z": "C"},
    {"T": "t", "S": "AAPL", "i": 96922, "x": "D", "p": 126.5, "s": 20,
     "t": "2021-02-22T15:51:45Z", "c": ["@"], "z": "C"},
]  # fmt: skip


class AlpacaServer:
    """Alpaca's stream: greets, checks the key, confirms the subscription, sends trades."""

    def __init__(self, *, key: str = "k", secret: str = "s",  # noqa: S107
                 refuse_first: int | None = None,
                 extra: list[str] | None = None) -> None:  # fmt: skip
        self.key, self.secret = key, secret
        self.refuse_first = refuse_first  # an error code for the first connection
        self.extra = extra or []
        self.connections = 0
        self.subscriptions: list[dict[str, Any]] = []
        self.url = ""

    async def __aenter__(self) -> AlpacaServer:
        self._server = await serve(self._serve, "127.0.0.1", 0)
        self.url = f"ws://127.0.0.1:{next(iter(self._server.sockets)).getsockname()[1]}/v2/iex"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()

    async def _serve(self, ws: ServerConnection) -> None:
        self.connections += 1
        with contextlib.suppress(ConnectionClosed):
            if self.refuse_first is not None and self.connections == 1:
                await ws.send(json.dumps([{"T": "error", "code": self.refuse_first,
                                           "msg": "connection limit exceeded"}]))  # fmt: skip
                await ws.close()
                return
            await ws.send(json.dumps([{"T": "success", "msg": "connected"}]))
            auth = json.loads(await ws.recv())
            if auth != {"action": "auth", "key": self.key, "secret": self.secret}:
                await ws.send(json.dumps([{"T": "error", "code": 402, "msg": "auth failed"}]))
                await ws.close()
                return
            await ws.send(json.dumps([{"T": "success", "msg": "authenticated"}]))
            request = json.loads(await ws.recv())
            self.subscriptions.append(request)
            await ws.send(
                json.dumps(
                    [{"T": "subscription", "trades": request["trades"], "quotes": [], "bars": []}]
                )  # fmt: skip
            )
            for text in self.extra:
                await ws.send(text)
            await ws.send(json.dumps(TRADES[:2]))
            await ws.send(json.dumps(TRADES[2:]))
            await ws.wait_closed()


async def _collect(feed: AlpacaFeed, want: int, timeout: float = 10.0) -> list[Tick]:
    return await collect_ticks(
        lambda emit: supervise(feed, emit), want, timeout=timeout, linger=0.2
    )


async def test_trades_become_exact_ticks() -> None:
    async with AlpacaServer() as server:
        feed = AlpacaFeed({"AAPL": "AAPL", "MSFT": "MSFT"}, url=server.url, key="k", secret="s")
        ticks = await _collect(feed, 3)
    assert server.subscriptions == [{"action": "subscribe", "trades": ["AAPL", "MSFT"]}]
    assert [(t.symbol, t.price, t.size, t.trade_id, t.ts_event) for t in ticks] == [
        ("AAPL", Decimal("126.55"), Decimal(1), "D-96921", 1_614_009_104_208_000_000),
        ("MSFT", Decimal("411.2"), Decimal(100), "V-52983525029461", 1_709_303_400_123_456_789),
        ("AAPL", Decimal("126.5"), Decimal(20), "D-96922", 1_614_009_105_000_000_000),
    ]
    assert {t.source for t in ticks} == {"alpaca-iex"}
    health = feed.health.as_dict()
    assert health["state"] == "live" and health["ticks"] == 3 and health["errors"] == {}


async def test_refused_credentials_stop_the_feed_with_the_reason() -> None:
    async with AlpacaServer(key="right") as server:
        feed = AlpacaFeed({"AAPL": "AAPL"}, url=server.url, key="wrong", secret="s")
        await asyncio.wait_for(supervise(feed, lambda t: None), 10)  # ends: no retry
    assert server.connections == 1
    assert feed.health.state == FeedState.FAILED
    assert "402" in feed.health.detail and "ALPACA_API_KEY" in feed.health.detail


async def test_missing_credentials_stop_the_feed_without_connecting() -> None:
    async with AlpacaServer() as server:
        feed = AlpacaFeed({"AAPL": "AAPL"}, url=server.url)
        await asyncio.wait_for(supervise(feed, lambda t: None), 5)
    assert server.connections == 0 and feed.health.state == FeedState.FAILED


async def test_a_connection_limit_is_retried_with_backoff() -> None:
    async with AlpacaServer(refuse_first=406) as server:
        feed = AlpacaFeed({"AAPL": "AAPL", "MSFT": "MSFT"}, url=server.url, key="k", secret="s")
        ticks = await _collect(feed, 3)
    assert len(ticks) == 3 and server.connections == 2
    assert feed.health.errors["error_406"] == 1 and feed.health.reconnects == 1


async def test_malformed_messages_and_trades_are_counted_and_skipped() -> None:
    bad_price = {**TRADES[0], "p": "NaN", "i": 1}
    no_time = {**TRADES[0], "i": 2}
    del no_time["t"]
    extra = ["not json", json.dumps([bad_price, no_time, 7, {"T": "q", "S": "AAPL"}])]
    async with AlpacaServer(extra=extra) as server:
        feed = AlpacaFeed({"AAPL": "AAPL", "MSFT": "MSFT"}, url=server.url, key="k", secret="s")
        ticks = await _collect(feed, 3)
    assert [t.trade_id for t in ticks] == ["D-96921", "V-52983525029461", "D-96922"]
    assert feed.health.errors == {
        "malformed_message": 1,
        "malformed_trade": 2,
        "unknown_message": 2,
    }


def test_rfc3339_times_keep_their_nanoseconds() -> None:
    assert rfc3339_ns("2024-03-01T14:30:00.123456789Z") == 1_709_303_400_123_456_789
    assert rfc3339_ns("2024-03-01T14:30:00Z") == 1_709_303_400_000_000_000
    for bad in ("2024-03-01T14:30:00", "2024-03-01T14:30:00.12x4Z"):
        with pytest.raises(ValueError):
            rfc3339_ns(bad)
