"""Real-time US stock trades from Alpaca's market-data stream (v2), a client of the
documented protocol (https://docs.alpaca.markets/docs/real-time-stock-pricing-data).

The official SDK runs its own event loop (`StockDataStream.run()`), so it cannot live
inside tickstream's; the protocol is small: connect, `auth`, `subscribe`, then arrays of
messages, trades being `{"T": "t", "S": symbol, "i": id, "x": exchange, "p": price,
"s": size, "t": RFC-3339 time}`.

- Prices and sizes are read from the JSON text as `Decimal` (never through float).
- `trade_id` is `<exchange>-<id>` (Alpaca numbers trades per exchange), so the pipeline
  drops a trade sent again after a reconnect.
- Refused credentials (402), a plan without the feed (409, 410) or too many symbols (405)
  stop the feed with the reason: retrying cannot help. A lost connection, a connection
  limit (406), a slow-client close (407) or a server error end the session, and the
  feed supervisor (`base.supervise`) reconnects after its backoff (1 s doubling to 60 s).
  The websocket's pings find a dead connection; `silence_s` (off by default: a stock can
  be quiet for minutes) also ends a session that receives nothing.
- Past candles come from the documented historical bars endpoint
  (`GET /v2/stocks/{symbol}/bars`, paged with `next_page_token`), numbers kept as text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from decimal import InvalidOperation
from typing import TYPE_CHECKING, Any

from tickstream.common.core import edge
from tickstream.market.core.ticks import NS_PER_S, Tick, ns_to_datetime
from tickstream.market.feeds.base import Disconnected, Emit, Feed, FeedFailed, backoff_delay
from tickstream.market.feeds.spec import FeedSpec

if TYPE_CHECKING:
    from tickstream.market.core.analytics.intervals import Interval
    from tickstream.market.feeds.candles import Progress
    from tickstream.market.writer import CandleRow

log = logging.getLogger(__name__)

STREAM_URL = "wss://stream.data.alpaca.markets/v2/{data}"
REST_URL = "https://data.alpaca.markets"
BARS_PAGE = 10_000  # the bars endpoint's largest page
TIMEFRAMES = {"1m": "1Min", "5m": "5Min", "15m": "15Min", "1h": "1Hour", "1d": "1Day"}
FATAL = {
    400: "the stream refused a message as invalid",
    402: "Alpaca refused the API key and secret (ALPACA_API_KEY, ALPACA_API_SECRET)",
    405: "more symbols than the subscription allows",
    409: "the account's subscription does not include this feed (use data=iex)",
    410: "this feed does not take that subscription",
}
RETRY = {406: "connection limit exceeded", 407: "closed as a slow client", 500: "server error"}


class _Reconnect(Disconnected):
    """Alpaca said to retry (a connection limit, a slow client, a server error)."""


def rfc3339_ns(text: str) -> int:
    """Nanoseconds since the epoch of an RFC-3339 UTC time with up to 9 decimals."""
    if not text.endswith("Z"):
        raise ValueError(f"not a UTC time: {text!r}")
    whole, _, fraction = text[:-1].partition(".")
    if not fraction.isdigit() and fraction:
        raise ValueError(f"bad fraction in {text!r}")
    seconds = int(datetime.fromisoformat(whole + "+00:00").timestamp())
    return seconds * NS_PER_S + int((fraction or "0")[:9].ljust(9, "0"))


class AlpacaFeed(Feed):
    """The trades of `symbols` (Alpaca symbol -> instrument)."""

    kind = "alpaca"
    counts_messages = True
    backoff_base_s = 1.0
    backoff_cap_s = 60.0

    def __init__(
        self,
        symbols: Mapping[str, str],
        *,
        data: str = "iex",
        url: str | None = None,
        key: str | None = None,
        secret: str | None = None,
        silence_s: float = 0.0,
        rest_url: str | None = None,
        backfill_days: float = 5.0,
    ) -> None:
        if not symbols:
            raise ValueError("alpaca needs at least one symbol")
        self.mapping = dict(symbols)
        self.data = data
        self.url = url or STREAM_URL.format(data=data)
        self.key = key
        self.secret = secret
        self.silence_s = silence_s
        self.source = f"alpaca-{data}"
        self.rest_url = (rest_url or REST_URL).rstrip("/")
        # Five days by default: a stock's last session may be days back (weekends, holidays).
        self.backfill_days = backfill_days

    @classmethod
    def from_spec(cls, spec: FeedSpec) -> AlpacaFeed:
        """`alpaca symbols=AAPL,... [map=...] [data=iex|sip|test] [url=] [rest=] [silence=]
        [backfill=5]`, with the ALPACA_API_KEY and ALPACA_API_SECRET settings."""
        spec.allow("symbols", "map", "data", "url", "rest", "silence", "backfill")
        symbols = spec.names("symbols", upper=True)
        if not symbols:
            raise spec.error("alpaca needs symbols=AAPL,...")
        mapped = spec.names("map", upper=True) if "map" in spec.options else symbols
        if len(mapped) != len(symbols):
            raise spec.error(f"map names {len(mapped)} instruments for {len(symbols)}")
        spec.active(mapped)
        data = spec.text_of("data", "iex")
        if data not in {"iex", "sip", "test"}:
            raise spec.error("data must be iex, sip or test")
        from django.conf import settings

        try:
            return cls(
                dict(zip(symbols, mapped, strict=True)),
                key=settings.ALPACA_API_KEY,
                secret=settings.ALPACA_API_SECRET,
                data=data,
                url=spec.text_of("url") or None,
                silence_s=spec.number("silence", 0.0),
                rest_url=spec.text_of("rest") or None,
                backfill_days=spec.backfill_days(5.0),
            )
        except ValueError as exc:
            raise spec.error(str(exc)) from None

    def symbols(self) -> list[str]:
        return list(self.mapping.values())

    def describe(self) -> str:
        return f"alpaca({self.data}: {', '.join(self.mapping)})"

    async def run(self, emit: Emit) -> None:
        """One session: connect, authenticate, subscribe, emit trades until it ends."""
        import websockets

        if not self.key or not self.secret:
            raise FeedFailed("set ALPACA_API_KEY and ALPACA_API_SECRET to stream Alpaca trades")
        try:
            async with websockets.connect(
                self.url, open_timeout=10, ping_interval=20, ping_timeout=20, max_size=2**22
            ) as ws:
                await self._session(ws, emit)
        except websockets.ConnectionClosed as exc:
            raise Disconnected(f"{type(exc).__name__}: {exc}") from exc

    async def _receive(self, ws: Any) -> list[Any]:
        raw = await ws.recv()
        self.health.message()
        try:
            messages = json.loads(raw, parse_float=str)
        except ValueError:
            self.health.error("malformed_message", str(raw)[:200])
            return []
        if not isinstance(messages, list):
            messages = [messages]
        return messages

    async def _expect(self, ws: Any, kind: str, msg: str | None = None) -> dict[str, Any]:
        """The next message of type `kind` (and text `msg`); an error message raises."""
        while True:
            for message in await self._receive(ws):
                if not isinstance(message, dict):
                    continue
                self._check_error(message)
                if message.get("T") == kind and (msg is None or message.get("msg") == msg):
                    return message

    def _check_error(self, message: dict[str, Any]) -> None:
        if message.get("T") != "error":
            return
        code = message.get("code")
        text = f"Alpaca error {code}: {message.get('msg', '')}"
        if code in FATAL:
            raise FeedFailed(f"{text} ({FATAL[code]})")
        self.health.error(f"error_{code}", text)
        raise _Reconnect(f"{text} ({RETRY.get(code, 'retrying')})")

    async def _session(self, ws: Any, emit: Emit) -> None:
        await self._expect(ws, "success", "connected")
        await ws.send(json.dumps({"action": "auth", "key": self.key, "secret": self.secret}))
        await self._expect(ws, "success", "authenticated")
        await ws.send(json.dumps({"action": "subscribe", "trades": list(self.mapping)}))
        await self._expect(ws, "subscription")
        log.info("%s: subscribed", self.describe())
        while True:
            for message in await self._receive(ws):
                if not isinstance(message, dict):
                    self.health.error("unknown_message")
                    continue
                kind = message.get("T")
                if kind == "t":
                    tick = self._tick(message)
                    if tick is not None:
                        emit(tick)
                elif kind == "error":
                    self._check_error(message)
                elif kind not in ("success", "subscription"):
                    self.health.error("unknown_message")

    async def candles(
        self,
        symbol: str,
        interval: Interval,
        since_ms: int,
        until_ms: int,
        progress: Progress | None = None,
    ) -> list[CandleRow]:
        """The symbol's bars from the historical API, paged; only bars that closed by
        `until_ms`."""
        import aiohttp

        alpaca_symbol = next((a for a, s in self.mapping.items() if s == symbol), None)
        if alpaca_symbol is None:
            raise ValueError(f"alpaca does not price {symbol} here")
        if not self.key or not self.secret:
            raise FeedFailed("set ALPACA_API_KEY and ALPACA_API_SECRET to fetch Alpaca bars")
        timeframe = TIMEFRAMES.get(interval.name)
        if timeframe is None:
            raise ValueError(f"Alpaca has no {interval.name} bars")
        step_ms = interval.seconds * 1000
        params = {
            "timeframe": timeframe,
            "start": _rfc3339(since_ms),
            "end": _rfc3339(until_ms),
            "limit": str(BARS_PAGE),
            "adjustment": "raw",
            "feed": "sip" if self.data == "sip" else "iex",
        }
        headers = {"APCA-API-KEY-ID": self.key, "APCA-API-SECRET-KEY": self.secret}
        url = f"{self.rest_url}/v2/stocks/{alpaca_symbol}/bars"
        rows: list[CandleRow] = []
        timeout = aiohttp.ClientTimeout(total=30)
        async with aiohttp.ClientSession(headers=headers, timeout=timeout) as session:
            token: str | None = None
            while True:
                page = await self._bars_page(
                    session, url, params | ({"page_token": token} if token else {})
                )
                for bar in page.get("bars") or []:
                    try:
                        row = _bar(symbol, interval.name, bar)
                    except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
                        log.warning("%s: skipped a bar: %s", symbol, exc)
                        continue
                    if since_ms <= row.start // 1_000_000 <= until_ms - step_ms:  # closed by then
                        rows.append(row)
                token = page.get("next_page_token") or None
                if progress is not None and rows:
                    done = rows[-1].start // 1_000_000 + step_ms - since_ms
                    progress(len(rows), min(done, until_ms - since_ms), until_ms - since_ms)
                if token is None:
                    return rows

    async def _bars_page(self, session: Any, url: str, params: dict[str, str]) -> dict[str, Any]:
        """One page of bars; a rate limit (429) or a server error is waited out (3 tries)."""
        for attempt in range(1, 4):
            async with session.get(url, params=params) as response:
                text = await response.text()
                if response.status == 200:
                    page = json.loads(text, parse_float=str)
                    if not isinstance(page, dict):
                        raise ValueError("the bars answer is not an object")
                    return page
                if response.status in (401, 403):
                    raise FeedFailed(f"Alpaca refused the API key and secret ({response.status})")
                if response.status not in (429, 500, 502, 503, 504) or attempt == 3:
                    raise ConnectionError(f"Alpaca bars: HTTP {response.status}: {text[:200]}")
            wait = float(response.headers.get("Retry-After", "0") or 0) or backoff_delay(attempt)
            await asyncio.sleep(min(wait, 10.0))
        raise AssertionError("unreachable")

    def _tick(self, message: dict[str, Any]) -> Tick | None:
        try:
            symbol = self.mapping[message["S"]]
            price, size = edge.parse_decimal(message["p"]), edge.parse_decimal(message["s"])
            trade_id = f"{message['x']}-{message['i']}"
            ts_event = rfc3339_ns(message["t"])
        except (KeyError, TypeError, ValueError, InvalidOperation) as exc:
            self.health.error("malformed_trade", f"{exc}: {message!r}"[:300])
            return None
        return Tick(symbol, price, size, ts_event, time.time_ns(), self.source, trade_id)


def _rfc3339(ms: int) -> str:
    return ns_to_datetime(ms * 1_000_000).strftime("%Y-%m-%dT%H:%M:%SZ")


def _bar(symbol: str, interval: str, bar: dict[str, Any]) -> CandleRow:
    """A closed candle from one bar of the historical API (`t`, `o`, `h`, `l`, `c`, `v`, `n`)."""
    from tickstream.market.feeds.candles import venue_candle

    values = [bar[k] for k in ("o", "h", "l", "c", "v")]
    if any(isinstance(v, bool) or not isinstance(v, str | int) for v in values):
        raise ValueError(f"not numbers: {values!r}")
    trades = bar.get("n", 0)
    start_ms = rfc3339_ns(bar["t"]) // 1_000_000
    return venue_candle(
        symbol, interval, [start_ms, *values], trades if isinstance(trades, int) else 0
    )
