"""The tutorials' websocket endpoints, kept working for their client code, on the Hub.

- `ws/stock_updates/` (stock market analysis): every update of every instrument with its
  analysis; a message a client sends is a tick, taken only from an authorised publisher.
- `ws/ticker/` (stock ticker): the ticker of every instrument.
- `ws/stocks/` (portfolio tracker): `{"symbol", "price", "change"}` (change in percent) of
  one symbol, now and on every change; send `{"symbol": "MSFT"}` to switch.
- `ws/cryptocurrency/` (crypto trading): `{"name", "price", "timestamp"}` of one crypto from
  the latest stored price, then on every change; send `{"cryptocurrency": "ETH"}` (name or
  symbol) to switch.

The last two stream a default symbol from the moment they connect, because the tutorials'
pages only listen. Each message is one JSON object per frame, as the tutorials' clients
parse them.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import orjson
from channels.db import database_sync_to_async
from django.conf import settings

from tickstream.market import selectors
from tickstream.market.gateway import PipelineUnavailable, ingest_pushed
from tickstream.market.models import Instrument
from tickstream.stream.consumers import HubConsumer
from tickstream.stream.core.protocol import (
    ChannelKind,
    ChannelRef,
    ErrorCode,
    ProtocolError,
    encode,
)
from tickstream.stream.core.views import SymbolView
from tickstream.stream.registry import register_format

_crypto_names: dict[str, str] = {}


def _quote(view: SymbolView) -> dict[str, Any] | None:
    return view.quote if view.quote and view.quote.get("last") else None


def _ticker(ref: ChannelRef, view: SymbolView) -> dict[str, Any] | None:
    q = _quote(view)
    if q is None:
        return None
    return {
        "symbol": view.symbol,
        "price": q["last"],
        "change": q["change"],
        "change_pct": q["change_pct"],
        "volume": q["volume"],
        "time": q["time"],
    }


def _stocks(ref: ChannelRef, view: SymbolView) -> dict[str, Any] | None:
    q = _quote(view)
    if q is None:
        return None
    return {"symbol": view.symbol, "price": q["last"], "change": q["change_pct"]}


def _stock_updates(ref: ChannelRef, view: SymbolView) -> dict[str, Any] | None:
    message = _ticker(ref, view)
    if message is None:
        return None
    q = view.quote or {}
    return {
        **message,
        "open": q.get("open"),
        "high": q.get("high"),
        "low": q.get("low"),
        "vwap": q.get("vwap"),
        "analysis": view.analysis,
    }


def _seed_time(iso: str) -> str:
    """`2026-11-22 03:45:42.123000+00:00`: how the tutorial's str(timestamp) prints."""
    return str(datetime.fromisoformat(iso.replace("Z", "+00:00")))


def _crypto(ref: ChannelRef, view: SymbolView) -> dict[str, Any] | None:
    q = _quote(view)
    if q is None or not q.get("time"):
        return None
    return {
        "name": _crypto_names.get(view.symbol, view.symbol),
        "price": q["last"],
        "timestamp": _seed_time(q["time"]),
    }


def register_formats() -> None:
    """The tutorials' message shapes, for the Hubs (encoded once per flush each)."""
    for wire, encoder in {
        "seed-ticker": _ticker,
        "seed-stocks": _stocks,
        "seed-stock-updates": _stock_updates,
        "seed-crypto": _crypto,
    }.items():
        register_format(wire, encoder)


_active_symbols = database_sync_to_async(selectors.active_symbols)
_find = database_sync_to_async(selectors.instrument_by_name_or_symbol)
_stored_price = database_sync_to_async(selectors.stored_crypto_price)
_can_publish = database_sync_to_async(selectors.user_can_publish_ticks)


class SeedConsumer(HubConsumer):
    batch = False

    async def follow(self, symbols: list[str]) -> list[dict[str, Any]]:
        """Follow the tickers of `symbols` instead of what was followed; return their state."""
        for ref, group in list(self.subscriptions.values()):
            await self.hub.unsubscribe(self, ref, group)
        self.subscriptions.clear()
        messages = []
        for symbol in symbols:
            ref = ChannelRef.market(ChannelKind.TICKER, symbol)
            messages += await self.hub.subscribe(self, ref)
            self.subscriptions[ref.name] = (ref, None)
        return messages

    async def connect(self) -> None:
        self.start_limits()  # the limits and close codes of /ws/v1/
        await super().connect()

    def parse(self, text_data: str | None, bytes_data: bytes | None) -> Any:
        """A client frame as JSON, within the rate and size limits."""
        raw = text_data if text_data is not None else (bytes_data or b"")
        self.admit(raw)
        return _loads(raw)


def _loads(raw: str | bytes) -> Any:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the frame is not valid JSON") from None


class TickerConsumer(SeedConsumer):
    """`ws/ticker/`: the ticker of every instrument."""

    wire = "seed-ticker"

    async def connect(self) -> None:
        await super().connect()
        self.send_now(await self.follow(await _active_symbols()))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """The tutorial's consumer ignores what clients send; so does this one, within the
        same limits as every endpoint (a flood is refused and closed)."""
        try:
            self.admit(text_data if text_data is not None else (bytes_data or b""))
        except ProtocolError as exc:
            await self.refuse(exc)


class StockUpdatesConsumer(SeedConsumer):
    """`ws/stock_updates/`: every update of every instrument, with its analysis."""

    wire = "seed-stock-updates"

    async def connect(self) -> None:
        await super().connect()
        self.send_now(await self.follow(await _active_symbols()))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        """A message from a client is a tick (or {"ticks": [...]}) from a publisher."""
        try:
            raw = text_data if text_data is not None else (bytes_data or b"")
            self.admit(raw)
            user = self.scope.get("user")
            allowed = (
                user is not None
                and user.is_authenticated
                and (
                    user.is_staff
                    or await database_sync_to_async(selectors.user_can_publish_ticks)(user)
                )
            )
            if not allowed:
                raise ProtocolError(
                    ErrorCode.FORBIDDEN, "only authorised publishers may send stock data"
                )
            data = _loads(raw)
            items = data.get("ticks") if isinstance(data, dict) and "ticks" in data else [data]
            if not isinstance(items, list) or not items or len(items) > settings.INGEST_MAX_BATCH:
                raise ProtocolError(ErrorCode.BAD_FRAME, 'send a tick object or {"ticks": [...]}')
            try:
                rejected = await ingest_pushed(items)
            except PipelineUnavailable as exc:
                raise ProtocolError(ErrorCode.UNAVAILABLE, str(exc)) from None
            self.deliver(
                encode(
                    {"type": "ack", "accepted": len(items) - len(rejected), "rejected": rejected}
                )
            )
        except ProtocolError as exc:
            await self.refuse(exc)


class StocksConsumer(SeedConsumer):
    """`ws/stocks/`: one symbol's price and change (%), switched by `{"symbol": ...}`."""

    wire = "seed-stocks"
    kind = Instrument.Kind.STOCK
    field = "symbol"

    def default(self) -> str:
        return str(settings.STREAM_DEFAULT_STOCK)

    async def connect(self) -> None:
        await super().connect()
        instrument = await _find(self.default(), self.kind)
        if instrument is not None:
            await self.switch(instrument)

    async def switch(self, instrument: Instrument) -> None:
        self.send_now(await self.follow([instrument.symbol]))

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        try:
            data = self.parse(text_data, bytes_data)
            value = data.get(self.field) if isinstance(data, dict) else None
            if not isinstance(value, str) or not value.strip():
                raise ProtocolError(ErrorCode.BAD_FRAME, f'send {{"{self.field}": "..."}}')
            instrument = await _find(value, self.kind)
            if instrument is None:
                raise ProtocolError(ErrorCode.UNKNOWN_SYMBOL, f"no {self.kind} {value!r}")
            await self.switch(instrument)
        except ProtocolError as exc:
            await self.refuse(exc)


class CryptocurrencyConsumer(StocksConsumer):
    """`ws/cryptocurrency/`: one crypto's name, price and time, switched by
    `{"cryptocurrency": "BTC"}` (name or symbol)."""

    wire = "seed-crypto"
    kind = Instrument.Kind.CRYPTO
    field = "cryptocurrency"

    def default(self) -> str:
        return str(settings.STREAM_DEFAULT_CRYPTO)

    async def switch(self, instrument: Instrument) -> None:
        _crypto_names[instrument.symbol] = instrument.name
        stored = await _stored_price(instrument)
        live = await self.follow([instrument.symbol])
        self.send_now([stored] if stored is not None else live)
