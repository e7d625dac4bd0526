"""A local websocket server that plays recorded real venue frames to ccxt.

It answers ccxt's subscription the way the venue does, then sends the recorded trade frames
of the subscribed markets in their recorded order. A frame's envelope may be rewrapped to
the shape the venue sends for ccxt's subscription (Binance's combined-stream wrapper is
taken off for the raw stream ccxt opens); each trade's fields are sent as recorded.

Faults on demand: `drop_after` closes the connection abruptly after that many trade frames
(once), and the next connection starts `overlap` frames before the drop, as a venue that
repeats recent trades on subscribe; `garbage` frames are sent before the trades.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "cryptofeed"


def received_frames(path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """The frames a capture received (`<ts>: <json>` lines): parsed, and as recorded."""
    for line in path.read_text().splitlines():
        head, sep, body = line.partition(": ")
        if not sep or " " in head:  # connects (`<url> <-> ts`) and sent frames (`<url> <- ts`)
            continue
        yield json.loads(body, parse_float=Decimal), body


@dataclass(frozen=True)
class Trade:
    """A trade as recorded: what the tick must carry."""

    market: str  # the venue's market id
    price: Decimal
    size: Decimal
    trade_id: str
    ts_ms: int


@dataclass
class Venue:
    """How one venue subscribes, acknowledges and frames its trades."""

    name: str
    capture: str
    # request -> (acknowledgements, subscribed keys)
    subscribe: Callable[[dict[str, Any]], tuple[list[dict[str, Any]], list[str]]]
    key: Callable[[dict[str, Any]], str | None]  # a recorded frame's key (None: not a trade)
    # the text to send for a recorded frame (default: as recorded)
    wrap: Callable[[dict[str, Any], str], str]
    trades: Callable[[dict[str, Any]], list[Trade]]  # the trades a recorded frame holds
    markets: dict[str, str]  # market id -> ccxt unified symbol, of the markets replayed

    def frames(self) -> list[tuple[str, dict[str, Any], str]]:
        return [
            (key, frame, text)
            for frame, text in received_frames(FIXTURES / self.capture)
            if (key := self.key(frame)) is not None and key.lower() in self._keys()
        ]

    def _keys(self) -> set[str]:
        return {k.lower() for k in self.markets_keys()}

    def markets_keys(self) -> list[str]:
        return [self.key_of(m) for m in self.markets]

    key_of: Callable[[str], str] = field(default=lambda market: market)

    def recorded_trades(self) -> list[Trade]:
        return [t for _, frame, _ in self.frames() for t in self.trades(frame)]


def _binance(name: str, capture: str, markets: dict[str, str]) -> Venue:
    def subscribe(request: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        return [{"result": None, "id": request.get("id")}], list(request.get("params", []))

    def trades(frame: dict[str, Any]) -> list[Trade]:
        d = frame["data"]
        return [Trade(d["s"], Decimal(d["p"]), Decimal(d["q"]), str(d["a"]), int(d["T"]))]

    return Venue(
        name,
        capture,
        subscribe,
        key=lambda f: f.get("stream") if str(f.get("stream", "")).endswith("@aggTrade") else None,
        wrap=lambda f, _: json.dumps(f["data"]),  # strings and integers only
        trades=trades,
        markets=markets,
        key_of=lambda market: f"{market.lower()}@aggTrade",
    )


def _coinbase() -> Venue:
    def subscribe(request: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        ids = list(request.get("product_ids", []))
        channels = [{"name": c, "product_ids": ids} for c in request.get("channels", [])]
        return [{"type": "subscriptions", "channels": channels}], ids

    def trades(f: dict[str, Any]) -> list[Trade]:
        from datetime import datetime

        ms = int(datetime.fromisoformat(f["time"].replace("Z", "+00:00")).timestamp() * 1000)
        return [
            Trade(f["product_id"], Decimal(f["price"]), Decimal(f["size"]), str(f["trade_id"]), ms)
        ]

    return Venue(
        "coinbaseexchange",
        "COINBASE.ws.28.0.trades",
        subscribe,
        key=lambda f: f["product_id"] if f.get("type") in ("match", "last_match") else None,
        wrap=lambda _, text: text,
        trades=trades,
        markets={
            m: m.replace("-", "/")
            for m in (
                "SKL-USD",
                "SKL-BTC",
                "BAND-GBP",
                "NMR-EUR",
                "BAND-BTC",
                "YFI-BTC",
                "DASH-BTC",
                "NU-GBP",
                "CRV-EUR",
                "SKL-GBP",
            )  # fmt: skip
        },
    )


def _okx() -> Venue:
    def subscribe(request: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        args = request.get("args", [])
        acks = [{"event": "subscribe", "arg": a, "connId": "replay"} for a in args]
        return acks, [a["instId"] for a in args if a.get("channel") == "trades"]

    def trades(f: dict[str, Any]) -> list[Trade]:
        return [
            Trade(d["instId"], Decimal(d["px"]), Decimal(d["sz"]), str(d["tradeId"]), int(d["ts"]))
            for d in f["data"]
        ]

    return Venue(
        "okx",
        "OKX.ws.1.0.trades",
        subscribe,
        key=lambda f: f["arg"]["instId"] if "data" in f and "arg" in f else None,
        wrap=lambda _, text: text,
        trades=trades,
        markets={"BTC-USDT": "BTC/USDT"},
    )


def _bitstamp() -> Venue:
    def subscribe(request: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        channel = request.get("data", {}).get("channel", "")
        return [{"event": "bts:subscription_succeeded", "channel": channel, "data": {}}], [channel]

    def trades(f: dict[str, Any]) -> list[Trade]:
        d = f["data"]
        market = f["channel"].removeprefix("live_trades_")
        ms = int(d["microtimestamp"]) // 1000
        return [Trade(market, Decimal(d["price_str"]), Decimal(d["amount_str"]), str(d["id"]), ms)]

    return Venue(
        "bitstamp",
        "BITSTAMP.ws.1.0.trades",
        subscribe,
        key=lambda f: f.get("channel") if f.get("event") == "trade" else None,
        wrap=lambda _, text: text,
        trades=trades,
        markets={"ethusd": "ETH/USD"},
        key_of=lambda market: f"live_trades_{market}",
    )


VENUES: dict[str, Venue] = {
    v.name: v
    for v in (
        _binance("binance", "BINANCE.ws.1.0", {"NKNUSDT": "NKN/USDT", "LRCBTC": "LRC/BTC"}),
        _binance("binanceus", "BINANCE_US.ws.1.0", {"OMGBUSD": "OMG/BUSD"}),
        _coinbase(),
        _okx(),
        _bitstamp(),
    )
}

GARBAGE = [
    "this is not json",
    '{"truncated": ',
    json.dumps({"unexpected": "shape", "data": [1, 2, 3]}),
    json.dumps([1, "two", None]),
]


class ReplayServer:
    """Serves one venue's recording on 127.0.0.1 until stopped."""

    def __init__(
        self, venue: Venue, *, drop_after: int | None = None, overlap: int = 0,
        garbage: list[str] | None = None,
    ) -> None:  # fmt: skip
        self.venue = venue
        self.frames = venue.frames()
        self.drop_after = drop_after
        self.overlap = overlap
        self.garbage = list(garbage or [])
        self.connections = 0
        self.sent = 0  # trade frames sent, over every connection
        self._next: dict[str, int] = {}  # per key: the next frame index to send
        self._server: Any = None
        self.url = ""

    async def __aenter__(self) -> ReplayServer:
        self._server = await serve(self._serve, "127.0.0.1", 0)
        port = next(iter(self._server.sockets)).getsockname()[1]
        self.url = f"ws://127.0.0.1:{port}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        self._server.close()
        with contextlib.suppress(Exception):
            await self._server.wait_closed()

    async def _serve(self, ws: ServerConnection) -> None:
        self.connections += 1
        keys: set[str] = set()
        sender: asyncio.Task[None] | None = None
        try:
            async for text in ws:
                request = json.loads(text)
                if not isinstance(request, dict):
                    continue
                if request.get("op") == "ping" or request.get("method") == "ping":
                    continue
                acks, subscribed = self.venue.subscribe(request)
                for ack in acks:
                    await ws.send(json.dumps(ack))
                keys |= {k.lower() for k in subscribed}
                if sender is None:
                    sender = asyncio.create_task(self._send(ws, keys))
        except (ConnectionClosed, ConnectionError, ValueError):
            pass  # the client went away, or sent what no venue would answer  # noqa: S110
        finally:
            if sender is not None:
                sender.cancel()
                with contextlib.suppress(BaseException):
                    await sender

    async def _send(self, ws: ServerConnection, keys: set[str]) -> None:
        # ccxt subscribes symbol by symbol: let them all arrive
        wanted = {k.lower() for k in self.venue.markets_keys()}
        for _ in range(50):
            if wanted <= keys:
                break
            await asyncio.sleep(0.05)
        garbage, self.garbage = self.garbage, []  # once, on the first connection
        for text in garbage:
            await ws.send(text)
        for index, (key, frame, text) in enumerate(self.frames):
            if key.lower() not in keys or index < self._next.get(key, 0):
                continue
            if self.drop_after is not None and self.sent >= self.drop_after:
                self.drop_after = None
                for k in self._next:  # resume a little before the drop: repeats
                    self._next[k] = max(0, self._next[k] - self.overlap)
                self._next[key] = max(0, index - self.overlap)
                ws.transport.abort()  # no close frame: the connection just dies
                return
            await ws.send(self.venue.wrap(frame, text))
            self.sent += 1
            self._next[key] = index + 1
            await asyncio.sleep(0)
        await asyncio.Event().wait()  # stay open, silent, like a quiet market


def _unified(market_id: str, symbol: str) -> dict[str, Any]:
    base, quote = symbol.split("/")
    return {
        "id": market_id,
        "lowercaseId": market_id.lower(),
        "symbol": symbol,
        "base": base,
        "quote": quote,
        "baseId": base,
        "quoteId": quote,
        "settle": None,
        "type": "spot",
        "spot": True,
        "margin": False,
        "swap": False,
        "future": False,
        "option": False,
        "contract": False,
        "linear": None,
        "inverse": None,
        "active": True,
        "contractSize": None,
        "precision": {"amount": None, "price": None},
        "limits": {},
        "info": {},
    }


def markets_loader(venue: Venue) -> Callable[[Any], Any]:
    """Loads the venue's markets into a ccxt exchange without the network: Coinbase's from
    its recorded `/products` answer (parsed by ccxt itself), the others' from the replayed
    markets in ccxt's unified form (their captures hold no markets answer)."""

    async def load(exchange: Any) -> None:
        if venue.name == "coinbaseexchange":
            products = FIXTURES / "COINBASE.0"
            body = products.read_text().splitlines()[0].partition(": ")[2]

            async def recorded(params: Any = None) -> Any:
                return json.loads(body)

            exchange.publicGetProducts = recorded
            exchange.has["fetchCurrencies"] = False
            await exchange.load_markets()
        else:
            exchange.set_markets([_unified(m, s) for m, s in venue.markets.items()])

    return load
