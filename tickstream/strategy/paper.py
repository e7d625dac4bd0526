"""Paper trading a strategy as a program: a client of the websocket protocol
(`docs/protocol.md`) that follows `trades:<SYM>` and `orders`, and places and cancels
through `order.place` and `order.cancel`. Any number of them share one server and one feed.

The strategy sees what a backtest shows it, in the same order (`core/backtest.py`):

- each trade goes through a market core of its own (the same engine, the strategy's
  own intervals and indicators), then `on_trade` and `on_candle`;
- the account is the server's: balances, open orders and fills from the `orders`
  channel. A fill is told after the trade that caused it, so on_trade sees the account
  as it stood before that trade, as in a backtest. What arrives early waits (in order).
- an order is asked for at once (its client order id) and sent when the hook returns; its
  answer (`OrderAccepted`, `OrderRejected` with the server's code) comes when the server
  answers.

Everything the server sends is parsed and checked before it changes anything: a message
that does not parse is logged and counted (`malformed`), never acted on. A strategy whose
hook raises is stopped: its open orders are cancelled and the reason is kept (`error`).

Every trade told is kept (`tape`), with every fill: `tickstream.strategy.paper.backtest_of`
plays the tape through a backtest, which is how the parity test compares the two.

Cost per trade: the market core's update plus the strategy's hooks; per message O(1).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import secrets
import time
from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tickstream.common.core.edge import NumberError, parse_decimal
from tickstream.market.core.analytics.indicators import IndicatorSpec
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import Tick
from tickstream.market.core.validation import Rejection
from tickstream.strategy.core.api import (
    Context,
    OrderAccepted,
    OrderRejected,
    ReadsMarket,
    Strategy,
    order_kind,
)
from tickstream.strategy.core.equity import EquityCurve, value_of
from tickstream.strategy.core.report import MINUTE_NS, TapeDigest
from tickstream.stream.core.protocol import MESSAGE_BURST, MESSAGES_PER_SECOND, RateLimit
from tickstream.trading.core.events import Fill, Liquidity, OrderClosed, OrderTriggered
from tickstream.trading.core.matching import FILLED, market_base
from tickstream.trading.core.orders import OrderType, Side, Status, TimeInForce

log = logging.getLogger(__name__)
CLOSED = frozenset({Status.FILLED, Status.CANCELLED, Status.REJECTED, Status.EXPIRED})
KEPT_REFS = 100_000  # trades remembered to place a late fill (a fill names its trade)


def base_of(spec: InstrumentSpec) -> str:
    """What buying the instrument gets: `BTC` of `BTC-USD`, a stock's own symbol (as
    the venue names balances)."""
    return market_base(spec.symbol, spec.kind is not InstrumentKind.STOCK)


class Malformed(ValueError):
    """A server message that does not parse."""


@dataclass(slots=True)
class Run:
    """What a paper run did: the same fields a backtest's `Result` has, and the tape."""

    tape: list[Tick] = field(default_factory=list)
    fills: list[tuple[str, Fill, int]] = field(default_factory=list)  # (order, fill, ns)
    orders: dict[str, dict[str, Any]] = field(default_factory=dict)  # client id -> as sent
    balances: dict[str, tuple[Decimal, Decimal]] = field(default_factory=dict)
    equity: list[tuple[int, Decimal]] = field(default_factory=list)
    logs: list[tuple[int, str]] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    reaction_ms: deque[float] = field(default_factory=lambda: deque(maxlen=100_000))
    gaps: int = 0  # trades the server could not send (a `gap`): the tape misses them
    malformed: int = 0
    error: str | None = None  # why the strategy was stopped


def _decimal(data: Mapping[str, Any], key: str) -> Decimal:
    try:
        return parse_decimal(data[key])
    except (KeyError, NumberError) as exc:
        raise Malformed(f"{key}: {exc}") from None


def _int_text(data: Mapping[str, Any], key: str) -> int:
    value = data.get(key)
    if not isinstance(value, str) or not value.isdigit() or len(value) > 20:
        raise Malformed(f"{key} must be digits")
    return int(value)


def _balances(data: Any) -> dict[str, tuple[Decimal, Decimal]]:
    if not isinstance(data, list):
        raise Malformed("balances must be a list")
    out = {}
    for b in data:
        if not isinstance(b, dict) or not isinstance(b.get("currency"), str):
            raise Malformed("a balance must name its currency")
        out[b["currency"]] = (_decimal(b, "available"), _decimal(b, "reserved"))
    return out


def tick_of(symbol: str, seq: int, data: Mapping[str, Any]) -> Tick:
    """A trade of `trades:<SYM>` as the market core takes it; its id is the server's
    reference of the trade (its `trade_id`, else symbol, time and number), the one its
    fills name."""
    ts_event, ts_recv = _int_text(data, "ts_event"), _int_text(data, "ts_recv")
    trade_id = data.get("trade_id")
    if trade_id is not None and (not isinstance(trade_id, str) or len(trade_id) > 128):
        raise Malformed("trade_id must be text")
    source = data.get("source")
    return Tick(
        symbol,
        _decimal(data, "price"),
        _decimal(data, "size"),
        ts_event,
        ts_recv,
        source if isinstance(source, str) else "",
        trade_id or f"{symbol}:{ts_event}:{seq}",
    )


class Paper(ReadsMarket, Context):
    """One strategy trading on a server's paper venue over the websocket."""

    def __init__(
        self,
        strategy: Strategy,
        *,
        url: str,
        token: str,
        symbols: Sequence[str],
        instruments: Sequence[InstrumentSpec],
        intervals: Sequence[Interval],
        indicators: Sequence[IndicatorSpec],
        prefix: str | None = None,
        keep_tape: bool = True,
    ) -> None:
        self.strategy = strategy
        self.url, self.token = url, token
        self.symbols = [s.upper() for s in symbols]
        self.market = MarketEngine(
            instruments, intervals, indicators, max_delay_s=None, reorder_tolerance_s=0
        )
        self.specs = {s.symbol: s for s in instruments}
        self.run_ = Run()
        self.keep_tape = keep_tape  # a hosted run keeps only the digest and the prices
        self.digest = TapeDigest()
        self.prices: list[tuple[int, Decimal]] = []  # the last price of each minute
        # Client order ids are the server's idempotency keys: unique to this run.
        self.prefix = prefix or secrets.token_hex(4)
        self._ids = itertools.count(1)
        self._requests = itertools.count(1)
        self._asked: dict[int, tuple[str, str]] = {}  # request id -> (op, client id)
        self._server_ids: dict[str, int] = {}  # client id -> server order id
        self._clients: dict[int, str] = {}  # server order id -> client id
        self._open: dict[str, dict[str, Any]] = {}  # client id -> the server's order
        self._cancel_when_known: set[str] = set()
        self._outbox: list[dict[str, Any]] = []
        self._refs: dict[str, int] = {}  # told trades: reference -> time
        self._ref_order: deque[str] = deque()
        self._held: deque[dict[str, Any]] = deque()  # orders-channel updates waiting
        self._received_at = 0.0
        self._now = 0
        self._ws: Any = None
        self._start_due = False
        # The server's message rate, kept with a margin: a frame over it is refused
        # without its id, so the request would be lost.
        self._limit = RateLimit(MESSAGES_PER_SECOND * 0.9, MESSAGE_BURST // 2)
        self._curve = EquityCurve()
        self.run_.equity = self._curve.points
        self._cash = {spec.quote_currency for spec in instruments}
        self._priced_by = {base_of(spec): spec.symbol for spec in instruments}
        self.trades_told = 0
        # (client id, the server's creation time of the order): how long placing took
        self.accepted_at: deque[tuple[str, str]] = deque(maxlen=100_000)
        self.first_ns: int | None = None
        self.orders_seq = 0  # the last `orders` update taken
        self.stopped = asyncio.Event()
        self.ready = asyncio.Event()

    # --- the Context a strategy sees ---

    @property
    def now_ns(self) -> int:
        return self._now

    def balance(self, currency: str) -> tuple[Decimal, Decimal]:
        return self.run_.balances.get(currency, (Decimal(0), Decimal(0)))

    def position(self, symbol: str) -> Decimal:
        spec = self.specs.get(symbol)
        if spec is None:
            raise KeyError(f"{symbol} is not traded in this run")
        available, reserved = self.balance(base_of(spec))
        return available + reserved

    def open_orders(self) -> list[str]:
        return list(self._open)

    def order(
        self,
        side: Side,
        symbol: str,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        type: OrderType | None = None,
        stop_price: Decimal | None = None,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> str:
        client = f"{self.prefix}-s{next(self._ids)}"
        kind, tif = order_kind(price, type, tif)
        order: dict[str, Any] = {
            "symbol": symbol,
            "side": side.value,
            "type": kind.value,
            "quantity": str(quantity),
            "time_in_force": tif.value,
            "client_order_id": client,
        }
        if price is not None:
            order["price"] = str(price)
        if stop_price is not None:
            order["stop_price"] = str(stop_price)
        self.run_.orders[client] = order
        self._open[client] = {}
        request = next(self._requests)
        self._asked[request] = ("order.place", client)
        self._outbox.append({"op": "order.place", "id": request, "order": order})
        return client

    def cancel(self, order: str) -> None:
        server_id = self._server_ids.get(order)
        if server_id is None:
            if order in self._open:
                self._cancel_when_known.add(order)  # sent once the server names it
            return
        request = next(self._requests)
        self._asked[request] = ("order.cancel", order)
        self._outbox.append({"op": "order.cancel", "id": request, "order_id": server_id})

    def log(self, message: str) -> None:
        self.run_.logs.append((self._now, message))
        log.info("%s", message)

    # --- the run ---

    async def run(self, *, duration_s: float | None = None, connect: Any = None) -> Run:
        """Connect, follow, trade; until `stop()`, `duration_s`, the server closing, or
        the strategy failing. `connect`: an async context manager giving the socket
        (`recv`, `send`, iteration), the websocket to `url` unless told."""
        if connect is None:
            from websockets.asyncio.client import connect as ws_connect

            connect = ws_connect(
                self.url,
                additional_headers={"Authorization": f"Token {self.token}"},
                max_size=2**22,
                open_timeout=10,
            )
        async with connect as ws:
            self._ws = ws
            welcome = json.loads(await ws.recv())
            if not isinstance(welcome, dict) or welcome.get("type") != "welcome":
                raise ConnectionError(f"the server did not greet: {welcome!r}")
            if welcome.get("user") is None:
                raise PermissionError("the token was not accepted: paper trading needs a user")
            channels = ["orders", *(f"trades:{s}" for s in self.symbols)]
            await ws.send(json.dumps({"op": "subscribe", "id": 0, "channels": channels}))
            reader = asyncio.create_task(self._read(ws))
            stopper = asyncio.create_task(self.stopped.wait())
            waits: set[asyncio.Future[Any]] = {reader, stopper}
            timer = None
            if self.strategy.timer_s:
                timer = asyncio.create_task(self._timer(self.strategy.timer_s))
            await asyncio.wait(waits, timeout=duration_s, return_when=asyncio.FIRST_COMPLETED)
            if reader.done() and not self.stopped.is_set() and self.run_.error is None:
                # The server ended the connection: the run ends, and says so (its orders
                # stay open on the venue: nothing is left to cancel them through).
                failure = None if reader.cancelled() else reader.exception()
                why = f": {failure}" if failure else ""
                self.run_.error = f"the connection to the server closed{why}"
            if not self.stopped.is_set():
                self._hook(self.strategy.on_stop)
            self.stopped.set()
            if not reader.done():  # cancel what is open, and hear the answers (bounded)
                self._cancel_all()
                await self._flush()
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(5):  # the answers, then the orders' ends
                        while (self._asked or self._open) and not reader.done():  # noqa: ASYNC110
                            await asyncio.sleep(0.01)
            for task in (*waits, *([timer] if timer else [])):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await reader
        self._ws = None
        return self.run_

    def stop(self) -> None:
        self.stopped.set()

    async def _timer(self, every_s: float) -> None:
        """`on_timer` every `every_s` of the wall clock, once the account is known."""
        await self.ready.wait()
        while not self.stopped.is_set():
            await asyncio.sleep(every_s)
            self._now = max(self._now, time.time_ns())
            self._hook(self.strategy.on_timer)
            await self._flush()

    async def _read(self, ws: Any) -> None:
        async for raw in ws:
            self._received_at = time.perf_counter()
            try:
                data = json.loads(raw)
            except ValueError:
                self.run_.malformed += 1
                continue
            for message in data if isinstance(data, list) else [data]:
                if not isinstance(message, dict):
                    self.run_.malformed += 1
                    continue
                try:
                    self._take(message)
                except Malformed as exc:
                    self.run_.malformed += 1
                    log.warning("a server message that does not parse (%s): %r", exc, message)
            if self._start_due:
                self._start_due = False
                self._hook(self.strategy.on_start)
            await self._flush()

    async def _flush(self) -> None:
        """Send what the hooks asked for, in order."""
        if not self._outbox or self._ws is None:
            return
        out, self._outbox = self._outbox, []
        sent_at = time.perf_counter()
        if any(m["op"] == "order.place" for m in out):
            self.run_.reaction_ms.append((sent_at - self._received_at) * 1000)
        for message in out:  # a request is one frame, within the server's message rate
            while not self._limit.allow():  # noqa: ASYNC110 - a token bucket has no event
                await asyncio.sleep(1 / self._limit.rate)
            await self._ws.send(json.dumps(message))

    def _take(self, m: dict[str, Any]) -> None:
        kind, channel = m.get("type"), m.get("channel")
        if kind == "snapshot" and channel == "orders":
            self._orders_snapshot(m.get("data"))
            if isinstance(m.get("seq"), int):
                self.orders_seq = m["seq"]
        elif kind == "update" and channel == "orders":
            seq = m.get("seq")
            if isinstance(seq, int):
                self.orders_seq = seq
            self._held.append(m.get("data") or {})
            self._release()
        elif kind == "update" and isinstance(channel, str) and channel.startswith("trades:"):
            seq = m.get("seq")
            if not isinstance(seq, int) or not isinstance(m.get("data"), dict):
                raise Malformed("a trade update needs seq and data")
            self._trade(tick_of(channel[7:], seq, m["data"]))
        elif kind == "gap":
            self.run_.gaps += 1
            self.log(f"the server skipped trades {m.get('from')}..{m.get('to')} of {channel}")
        elif kind in ("result", "error") and isinstance(m.get("id"), int):
            self._answer(m)
        elif kind == "error":
            self.log(f"the server refused a frame: {m.get('code')} {m.get('message')}")
        elif kind == "subscribed":
            self.ready.set()
            self._start_due = True  # once its snapshots, in the same frame, are taken

    def _orders_snapshot(self, data: Any) -> None:
        if not isinstance(data, dict):
            raise Malformed("the orders snapshot must be an object")
        self.run_.balances = _balances(data.get("balances"))
        for order in data.get("orders") or []:
            client = order.get("client_order_id") if isinstance(order, dict) else None
            if isinstance(client, str) and client.startswith(f"{self.prefix}-"):
                self._know(client, order)

    def _know(self, client: str, order: dict[str, Any]) -> None:
        server_id = order.get("id")
        if not isinstance(server_id, int):
            raise Malformed("an order needs its id")
        self._server_ids[client] = server_id
        self._clients[server_id] = client
        if client in self._open:
            self._open[client] = order
        if client in self._cancel_when_known:
            self._cancel_when_known.discard(client)
            self.cancel(client)

    def _trade(self, tick: Tick) -> None:
        update = self.market.process(tick, live=False)
        if isinstance(update, Rejection):
            self.log(f"a trade the market core refused: {update}")
            return
        self._now = tick.ts_event
        if self.keep_tape:
            self.run_.tape.append(tick)
        self.digest.add(tick.symbol, tick.price, tick.size, tick.ts_event, tick.trade_id)
        prices, minute = self.prices, tick.ts_event // MINUTE_NS
        if prices and prices[-1][0] // MINUTE_NS == minute:
            prices[-1] = (tick.ts_event, tick.price)
        else:
            prices.append((tick.ts_event, tick.price))
        if self.first_ns is None:
            self.first_ns = tick.ts_event
        self.trades_told += 1
        assert tick.trade_id is not None  # noqa: S101 - tick_of names every trade
        self._refs[tick.trade_id] = tick.ts_event
        self._ref_order.append(tick.trade_id)
        if len(self._ref_order) > KEPT_REFS:
            self._refs.pop(self._ref_order.popleft(), None)
        self._hook(self.strategy.on_trade, tick)
        for closed in update.closed:
            self._hook(self.strategy.on_candle, tick.symbol, closed)
        self._release()
        if sum(self.balance(base_of(self.specs[tick.symbol]))) or not self._curve.points:
            self._curve.mark(self._now, self._equity(), keep=False)

    def _equity(self) -> Decimal:
        def price(asset: str) -> Decimal | None:
            symbol = self._priced_by.get(asset)
            return None if symbol is None else self.last_price(symbol)

        return value_of(((c, a + r) for c, (a, r) in self.run_.balances.items()), self._cash, price)

    def _release(self) -> None:
        """Take the orders-channel updates in order, up to one whose fill names a trade
        not told yet (it waits for its trade)."""
        while self._held:
            data = self._held[0]
            fill = data.get("fill")
            if isinstance(fill, dict) and fill.get("trade") not in self._refs:
                if fill.get("symbol") in self.symbols:
                    return
            self._held.popleft()
            self._order_update(data)

    def _order_update(self, data: dict[str, Any]) -> None:
        if "balances" in data:
            self.run_.balances = _balances(data["balances"])
        order = data.get("order")
        if not isinstance(order, dict):
            return
        client = order.get("client_order_id")
        if not isinstance(client, str) or client not in self.run_.orders:
            return  # not this run's
        self._know(client, order)
        try:
            status = Status(order.get("status"))
        except ValueError:
            raise Malformed("an order's status is unknown") from None
        server_id = order["id"]
        fill = data.get("fill")
        if data.get("event") == "fill" and isinstance(fill, dict):
            told = self._fill(server_id, fill)
            self.run_.fills.append((client, told, self._refs.get(told.trade, self._now)))
            self._curve.mark(self._now, self._equity(), keep=True)
            self._hook(self.strategy.on_fill, client, told)
        elif order.get("triggered") and not (self._open.get(client) or {}).get("triggered"):
            self._hook(self.strategy.on_order, client, OrderTriggered(server_id, self._now))
        if status in CLOSED and client in self._open:
            del self._open[client]
            reason = FILLED if status is Status.FILLED else str(order.get("reason") or "")
            closed = OrderClosed(server_id, status, reason, self._now)
            self._hook(self.strategy.on_order, client, closed)
        elif client in self._open:
            self._open[client] = order

    def _fill(self, server_id: int, fill: dict[str, Any]) -> Fill:
        try:
            side, liquidity = Side(fill.get("side")), Liquidity(fill.get("liquidity"))
        except ValueError:
            raise Malformed("a fill's side or liquidity is unknown") from None
        trade = fill.get("trade")
        if not isinstance(trade, str):
            raise Malformed("a fill names its trade")
        return Fill(
            server_id,
            0,
            str(fill.get("symbol")),
            side,
            _decimal(fill, "price"),
            _decimal(fill, "quantity"),
            _decimal(fill, "fee"),
            liquidity,
            trade,
        )

    def _answer(self, m: dict[str, Any]) -> None:
        asked = self._asked.pop(m["id"], None)
        if asked is None:
            return
        op, client = asked
        if op == "order.place":
            if m["type"] == "result":
                data = m.get("data")
                order = data.get("order") if isinstance(data, dict) else None
                if not isinstance(order, dict):
                    raise Malformed("a placement's result carries its order")
                self._know(client, order)
                self.accepted_at.append((client, str(order.get("created_at"))))
                self._hook(self.strategy.on_order, client, OrderAccepted(self._now))
            else:
                self._open.pop(client, None)
                self._cancel_when_known.discard(client)
                code, message = str(m.get("code")), str(m.get("message"))
                self.run_.rejected.append((client, code))
                self._hook(self.strategy.on_order, client, OrderRejected(code, message, self._now))
        elif m["type"] == "error" and m.get("code") != "not_cancellable":
            self.log(f"cancel of {client} refused: {m.get('code')} {m.get('message')}")

    def _hook(self, hook: Any, *args: Any) -> None:
        """Call a hook; one that raises stops the strategy (its orders are cancelled when
        the run ends), never the client."""
        if self.stopped.is_set():
            return
        try:
            hook(self, *args)
        except Exception as exc:
            self.run_.error = f"{type(exc).__name__}: {exc}"
            log.exception("the strategy failed and is stopped")
            for m in self._outbox:
                if m["op"] == "order.place":
                    self._open.pop(m["order"]["client_order_id"], None)
            self._outbox = [m for m in self._outbox if m["op"] == "order.cancel"]
            self.stopped.set()

    def _cancel_all(self) -> None:
        """Cancel every open order this run placed (a stopped strategy leaves none)."""
        for client in list(self._open):
            self.cancel(client)


def backtest_of(
    strategy: Strategy,
    paper: Paper,
    markets: Sequence[Any],
    *,
    cash: Mapping[str, Decimal],
    rules: Any,
    limits: Any = None,
    ticks: Iterable[Tick] | None = None,
) -> Any:
    """A backtest of `strategy` on the tape a paper run recorded, with the same market
    core settings: the other half of the parity test."""
    from tickstream.strategy.core.backtest import Backtest

    engine = paper.market
    run = Backtest(
        strategy,
        list(paper.specs.values()),
        markets,
        intervals=engine.intervals,
        indicators=engine.indicators,
        cash=cash,
        rules=rules,
        limits=limits,
    )
    return run.run(paper.run_.tape if ticks is None else ticks)
