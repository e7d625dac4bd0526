"""Live trades of a crypto exchange through ccxt's websocket API (`watch_trades`).

One `ExchangeFeed` watches one venue. Each venue trade becomes exactly one `Tick`:

- price and size are `Decimal`s of the venue's own text. ccxt is told to keep numbers as
  strings (`exchange.number = str`), and its websocket frames are parsed with each JSON
  number kept as its text, so a venue that sends numbers (Bitstamp, Kraken) loses no digit
  either;
- `trade_id` is the venue's, so a trade seen again after a reconnect is dropped (here, and
  by the pipeline's duplicate check);
- `ts_event` is the venue's trade time, `ts_recv` when this process read it, and `source`
  is the venue's ccxt id.

A dropped connection ends the session, and so does one silent for `silence_s`: the feed
supervisor (`base.supervise`) starts a new one after its backoff. A frame ccxt cannot
read, or a trade without a price, size or time, is counted and skipped. ccxt's own
throttle spaces the requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any

from tickstream.common.core import edge
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.base import Disconnected, Emit, Feed, FeedFailed
from tickstream.market.feeds.health import FeedState
from tickstream.market.feeds.spec import FeedSpec

if TYPE_CHECKING:
    from tickstream.market.core.analytics.intervals import Interval
    from tickstream.market.feeds.candles import Progress
    from tickstream.market.writer import CandleRow

log = logging.getLogger(__name__)

RECENT_IDS = 5_000  # trade ids remembered per symbol to drop what a reconnect sends again
TRADES_LIMIT = 10_000  # ccxt's per-symbol cache: a burst between two reads must fit

# Per venue: ccxt options that make its trade stream the one tickstream expects.
VENUE_OPTIONS: dict[str, dict[str, Any]] = {
    # Binance's aggregate trades: one print per taker order and price, as its own trade
    # list shows them (the raw `trade` stream is the same market at a finer grain).
    "binance": {"watchTradesForSymbols": {"name": "aggTrade"}, "watchTrades": {"name": "aggTrade"}},
    "binanceus": {
        "watchTradesForSymbols": {"name": "aggTrade"},
        "watchTrades": {"name": "aggTrade"},
    },
}


def _coinbase_last_match(message: Any) -> Any:
    """Coinbase sends each product's latest trade as `last_match` on subscribing; ccxt reads
    only `match`. It is a real trade (a chart starts from it; after a reconnect its id is
    a known one and it is dropped), so it is read as a match."""
    if isinstance(message, dict) and message.get("type") == "last_match":
        return {**message, "type": "match"}
    return message


# Per venue: frames rewritten before ccxt reads them.
VENUE_FRAMES: dict[str, Callable[[Any], Any]] = {"coinbaseexchange": _coinbase_last_match}

ExchangeFactory = Callable[[str, dict[str, Any]], Any]


def default_symbol(venue_symbol: str) -> str:
    """The instrument a venue symbol maps to without an explicit `map`: ccxt's unified
    `BASE/QUOTE` becomes `BASE-QUOTE` (`BTC/USDT` -> `BTC-USDT`)."""
    return venue_symbol.split(":")[0].replace("/", "-").upper()


def _exact_frames() -> None:
    """Make ccxt's websocket client keep each JSON number with a fraction as its text
    (never through float): ccxt reads prices with `safe_string`, which returns the text.

    ccxt parses every frame with one module-level parser; it is replaced once, for the
    whole process, by the standard library's with `parse_float=str`."""
    from ccxt.async_support.base.ws import client

    if getattr(client.json_parser, "tickstream_exact", False):
        return

    class _DecimalJson:
        tickstream_exact = True

        @staticmethod
        def loads(data: str | bytes) -> Any:
            try:
                return json.loads(data, parse_float=str)
            except ValueError:  # handed on as text: the feed counts it and skips it
                return data if isinstance(data, str) else data.decode("utf-8", "replace")

        @staticmethod
        def dumps(message: Any) -> bytes:
            return json.dumps(message, separators=(",", ":")).encode()

    client.json_parser = _DecimalJson


def make_exchange(venue: str, config: dict[str, Any]) -> Any:
    """A ccxt.pro exchange of `venue` with tickstream's settings."""
    import ccxt.pro

    _exact_frames()
    cls = getattr(ccxt.pro, venue, None)
    if cls is None or not isinstance(cls, type):
        raise FeedFailed(f"ccxt has no websocket exchange {venue!r}")
    exchange = cls(config)
    exchange.number = str  # trades keep the venue's text of each number
    return exchange


class ExchangeFeed(Feed):
    """The trades of `symbols` (venue symbol -> instrument) on one ccxt venue."""

    kind = "exchange"
    counts_messages = True

    def __init__(
        self,
        venue: str,
        symbols: Mapping[str, str],
        *,
        silence_s: float = 60.0,
        ws_url: str | None = None,
        factory: ExchangeFactory | None = None,
        markets: Callable[[Any], Any] | None = None,
        backfill_days: float = 2.0,
    ) -> None:
        if not symbols:
            raise ValueError("an exchange feed needs at least one symbol")
        self.venue = venue
        self.source = venue
        self.mapping = dict(symbols)
        self.silence_s = silence_s
        self.ws_url = ws_url
        self.factory = factory  # makes the ccxt exchange (default: `make_exchange`)
        self.backfill_days = backfill_days
        self.markets = markets  # loads the markets into a new exchange (default: the venue)
        self._recent: dict[str, tuple[set[str], deque[str]]] = {}
        self.exchange: Any = None

    @classmethod
    def from_spec(cls, spec: FeedSpec) -> ExchangeFeed:
        """`exchange venue=<ccxt id> symbols=BTC/USDT,... [map=BTC-USD,...] [silence=60]
        [ws=URL] [backfill=2]`."""
        spec.allow("venue", "symbols", "map", "silence", "ws", "backfill")
        venue = spec.text_of("venue").strip().lower()
        if not venue or not venue.isidentifier():
            raise spec.error("exchange needs venue=<a ccxt exchange id>")
        symbols = venue_symbols(spec.text_of("symbols"))
        if not symbols:
            raise spec.error("exchange needs symbols=BASE/QUOTE,...")
        try:
            mapping = symbol_map(symbols, spec.names("map") if "map" in spec.options else None)
        except ValueError as exc:
            raise spec.error(str(exc)) from None
        spec.active(list(mapping.values()))
        import ccxt.pro

        if venue not in ccxt.pro.exchanges:
            raise spec.error(f"ccxt has no websocket exchange {venue!r}")
        return cls(
            venue,
            mapping,
            silence_s=spec.number("silence", 60.0) or 60.0,
            ws_url=spec.text_of("ws") or None,
            backfill_days=spec.backfill_days(2.0),
        )

    def symbols(self) -> list[str]:
        return list(self.mapping.values())

    def describe(self) -> str:
        return f"exchange({self.venue}: {', '.join(self.mapping)})"

    # -- the connection -------------------------------------------------------------------

    def _new_exchange(self) -> Any:
        feed = self
        options = {"tradesLimit": TRADES_LIMIT, **VENUE_OPTIONS.get(self.venue, {})}
        exchange = self._make({"enableRateLimit": True, "options": options})
        original = exchange.handle_message
        rewrite = VENUE_FRAMES.get(self.venue)

        def handle_message(client: Any, message: Any) -> Any:
            feed.health.message()
            if not isinstance(message, dict | list):
                feed.health.error("malformed_message", f"not JSON: {str(message)[:100]!r}")
                return None
            try:
                return original(client, message if rewrite is None else rewrite(message))
            except Exception as exc:  # a frame ccxt cannot read: counted, skipped
                feed.health.error("malformed_message", f"{type(exc).__name__}: {exc}")
                log.debug("%s: unreadable frame skipped: %r", feed.venue, message)
                return None

        exchange.handle_message = handle_message
        if self.ws_url:
            _point_websockets_at(exchange, self.ws_url)
        return exchange

    def _make(self, config: dict[str, Any]) -> Any:
        return (self.factory or make_exchange)(self.venue, config)

    async def candles(
        self,
        symbol: str,
        interval: Interval,
        since_ms: int,
        until_ms: int,
        progress: Progress | None = None,
    ) -> list[CandleRow]:
        """The venue's closed candles (`fetch_ohlcv`, paged; numbers as the venue's text)."""
        from tickstream.market.feeds.candles import fetch_candles

        venue_symbol = next((v for v, s in self.mapping.items() if s == symbol), None)
        if venue_symbol is None:
            raise ValueError(f"{self.venue} does not price {symbol} here")
        exchange = self._make({"enableRateLimit": True})
        try:
            await self._load_markets(exchange)
            return await fetch_candles(
                exchange, venue_symbol, symbol, interval, since_ms, until_ms, progress=progress
            )
        finally:
            with contextlib.suppress(Exception):
                await exchange.close()

    async def _load_markets(self, exchange: Any) -> None:
        try:
            if self.markets is not None:
                await self.markets(exchange)
            else:
                await exchange.load_markets()
        except Exception as exc:
            raise ConnectionError(f"{self.venue}: markets could not be loaded: {exc}") from exc
        unknown = [s for s in self.mapping if s not in exchange.markets]
        if unknown:
            raise FeedFailed(
                f"{self.venue} has no market {', '.join(unknown)} "
                "(use ccxt's unified symbols, such as BTC/USDT)"
            )

    async def run(self, emit: Emit) -> None:
        """One session: every symbol watched on one ccxt exchange until a connection drops
        (`Disconnected`; the supervisor reconnects after its backoff)."""
        import ccxt

        health = self.health
        exchange = self.exchange = self._new_exchange()
        try:
            await self._load_markets(exchange)
            tasks = [
                asyncio.create_task(self._watch(exchange, symbol, emit, ccxt), name=symbol)
                for symbol in self.mapping
            ]
            try:
                done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
                for task in done:
                    task.result()  # raises what ended the session
            finally:
                for task in tasks:
                    task.cancel()
                await asyncio.gather(*tasks, return_exceptions=True)
        finally:
            if health.state != FeedState.FAILED:
                health.state = FeedState.RECONNECTING
            with contextlib.suppress(Exception):
                await exchange.close()

    async def _watch(self, exchange: Any, symbol: str, emit: Emit, ccxt: Any) -> None:
        """Emit one symbol's trades until its connection drops."""
        while True:
            try:
                trades = await exchange.watch_trades(symbol)
            except asyncio.CancelledError as exc:
                task = asyncio.current_task()
                if task is not None and task.cancelling():
                    raise  # the session is stopping
                raise Disconnected(f"{symbol}: the connection was closed ({exc})") from None
            except (ccxt.NetworkError, ConnectionError, TimeoutError) as exc:
                raise Disconnected(f"{symbol}: {type(exc).__name__}: {exc}") from exc
            except ccxt.BadSymbol as exc:
                raise FeedFailed(f"{self.venue}: {exc}") from exc
            for trade in trades:
                tick = self._tick(symbol, trade)
                if tick is not None:
                    emit(tick)

    # -- one trade ------------------------------------------------------------------------

    def _tick(self, symbol: str, trade: Mapping[str, Any]) -> Tick | None:
        """The tick of one ccxt trade, or None (counted) when it is a repeat or unreadable."""
        trade_id = trade.get("id")
        trade_id = None if trade_id is None else str(trade_id)
        if trade_id is not None and self._seen(symbol, trade_id):
            self.health.error("duplicate")
            return None
        try:
            price = edge.parse_decimal(trade.get("price"))
            size = edge.parse_decimal(trade.get("amount"))
            timestamp = int(trade["timestamp"])
        except (KeyError, TypeError, ValueError, InvalidOperation):
            self.health.error("malformed_trade", f"{symbol}: {dict(trade).get('info')!r}"[:300])
            return None
        return Tick(
            self.mapping[symbol],
            price,
            size,
            timestamp * 1_000_000,
            time.time_ns(),
            self.source,
            trade_id,
        )

    def _seen(self, symbol: str, trade_id: str) -> bool:
        ids, order = self._recent.setdefault(symbol, (set(), deque()))
        if trade_id in ids:
            return True
        ids.add(trade_id)
        order.append(trade_id)
        if len(order) > RECENT_IDS:
            ids.discard(order.popleft())
        return False


def _point_websockets_at(exchange: Any, origin: str) -> None:
    """Send every websocket URL of the exchange to `origin` (scheme://host:port), keeping
    each URL's path: a local relay, or a replay of recorded frames."""
    origin = origin.rstrip("/")

    def rewrite(value: Any) -> Any:
        if isinstance(value, str) and "://" in value:
            rest = value.split("://", 1)[1]
            path = rest[rest.find("/") :] if "/" in rest else ""
            return origin + path
        if isinstance(value, dict):
            return {k: rewrite(v) for k, v in value.items()}
        return value

    api = exchange.urls.get("api", {})
    if "ws" in api:
        api["ws"] = rewrite(api["ws"])


def venue_symbols(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def symbol_map(venue: Iterable[str], mapped: Iterable[str] | None) -> dict[str, str]:
    """Venue symbol -> instrument: the explicit `map` in order, else the default rule."""
    venue = list(venue)
    if mapped is None:
        return {v: default_symbol(v) for v in venue}
    mapped = list(mapped)
    if len(mapped) != len(venue):
        raise ValueError(f"map names {len(mapped)} instruments for {len(venue)} symbols")
    return {v: m.strip().upper() for v, m in zip(venue, mapped, strict=True)}
