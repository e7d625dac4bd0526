"""The matching engine in the running system: a tick hook in the pipeline's process (the
web process when embedded, `runfeeds` when split), so every trade is matched once.

- On start it loads every open order from the database into the pure `Engine`, each with
  exactly the funds the database holds for it, and says it is alive (`EngineBeat`), which
  is what lets the API accept orders.
- Every live trade goes through `Engine.on_trade` on the tick path (O(log n) when it
  crosses nothing); what it did (fills, closes, triggers) is queued as events, never lost,
  and a writer task records each in its own transaction (`services`), in order.
- Each event names the order version the engine knows. An order that changed meanwhile
  (cancelled by its owner, filled by another engine) makes the write stale: nothing is
  written, the engine drops what it holds of that order and reloads it from the database.
  So an order is never filled twice, whatever runs beside this engine.
- An order placed or cancelled is handed to it by a notice through the broker once its
  transaction commits (`services._tell_engine`): one read of that order, so a marketable
  order meets the next trade. It also polls for orders changed since it last looked
  (every TRADING_POLL_S, with a look-back that covers transactions committing late), the
  safety net for a lost notice, and compares every open order once a minute.
- `placement_ms` keeps how long each order told by a notice took from its commit to the
  engine, `creation_ms` how long each new order took from its creation in its
  transaction (the last 100,000 of each); the figures are logged when the engine stops
  (`make bench-trading` reads them).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import heapq
import logging
import os
import socket
import time
import uuid
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from types import SimpleNamespace
from typing import Any

from django.conf import settings
from django.utils import timezone

from tickstream.db import Outage, db_call, reconnecting
from tickstream.market.core.engine import TickUpdate
from tickstream.market.core.ticks import datetime_to_ns
from tickstream.stream.notices import Listener
from tickstream.throttled_log import ThrottledWarning
from tickstream.trading.core import matching
from tickstream.trading.core.events import OrderClosed, OrderEvent, OrderFilled, OrderTriggered
from tickstream.trading.core.orders import Order, OrderType, Side, Status, TimeInForce

log = logging.getLogger(__name__)
LOOK_BACK = timedelta(seconds=5)  # a placement committing this late is still seen
RECONCILE_S = 60.0
BEAT_S = 2.0
BACKLOG_WARNING = 10_000


@dataclass(slots=True)
class Queued:
    """An event of the engine, to be recorded over the order's `version` as the engine's
    `generation` of the order knew it."""

    event: OrderEvent
    version: int
    generation: int

    @property
    def order(self) -> int:
        return self.event.order


@dataclass(slots=True)
class _Known:
    version: int  # what the database will hold once the queued events are written
    generation: int = 0  # +1 each time the order is reloaded: older events are void
    pending: int = 0  # events queued, not yet written
    expires: datetime | None = None
    gone: bool = field(default=False)  # closed in the engine


def _noticed(data: dict[str, Any]) -> Any:
    """`selectors.order_notice`'s dict as a row `pure_order` and `_adopt` read (our own message, off
    our own broker: read, not re-validated)."""

    def number(key: str) -> Decimal | None:
        return None if data[key] is None else Decimal(data[key])

    return SimpleNamespace(
        pk=int(data["id"]),
        account_id=int(data["account"]),
        instrument=SimpleNamespace(symbol=str(data["symbol"])),
        side=data["side"],
        type=data["type"],
        quantity=Decimal(data["quantity"]),
        price=number("price"),
        stop_price=number("stop_price"),
        time_in_force=data["tif"],
        filled=Decimal(data["filled"]),
        notional=Decimal(data["notional"]),
        taker_notional=Decimal(data["taker_notional"]),
        fees=Decimal(data["fees"]),
        status=data["status"],
        triggered=bool(data["triggered"]),
        held=Decimal(data["held"]),
        version=int(data["version"]),
        expires_at=datetime.fromisoformat(data["expires_at"]) if data["expires_at"] else None,
        created_at=datetime.fromisoformat(data["created_at"]),
    )


def pure_order(row: Any) -> Order:
    """An order row as the engine holds it."""
    return Order(
        id=row.pk,
        account=row.account_id,
        symbol=row.instrument.symbol,
        side=Side(row.side),
        type=OrderType(row.type),
        quantity=row.quantity,
        price=row.price,
        stop_price=row.stop_price,
        tif=TimeInForce(row.time_in_force),
        filled=row.filled,
        notional=row.notional,
        taker_notional=row.taker_notional,
        fees=row.fees,
        status=Status(row.status),
        triggered=row.triggered,
    )


class MatchingHook:
    """Matches every accepted live trade against the open paper orders."""

    name = "trading"

    def __init__(self) -> None:
        self.engine: matching.Engine | None = None
        self.known: dict[int, _Known] = {}
        self.instance = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.fills = 0
        self.stale = 0  # writes the database refused: the order had changed
        self.voided = 0  # events dropped unwritten: their order was reloaded before
        self._expiry: list[tuple[datetime, int]] = []
        self._queue: asyncio.Queue[Queued | None] = asyncio.Queue()
        self._tasks: list[asyncio.Task[None]] = []
        self._started_at = timezone.now()
        self._polled: datetime | None = None
        self._backlog = ThrottledWarning(log)
        self._executor: ThreadPoolExecutor | None = None
        self._outages = {
            "record": Outage(log, "recording trading events (retried)"),
            "poll": Outage(log, "reading orders (the known ones are matched meanwhile)"),
            "beat": Outage(log, "the engine's heartbeat"),
        }
        self._context = contextvars.Context()
        self.placement_ms: deque[float] = deque(maxlen=100_000)
        # Orders told by notice that a trade of their symbol passed between their commit
        # and the engine taking them (a marketable one then fills on a later trade).
        self.late = 0
        self._last_trade_ns: dict[str, int] = {}  # a symbol's last trade, on receipt
        # Notices of this process's commits, handed over in the committing thread: taken
        # before the next trade is matched, so a marketable order meets the first trade
        # after its commit (the broker's copy comes later and finds the order known).
        self._told: deque[dict[str, Any]] = deque()
        self.creation_ms: deque[float] = deque(maxlen=100_000)
        self.polled = 0  # new orders read from the database (a poll), not told by a notice
        self._notices: Listener | None = None

    # --- life ---

    async def start(self) -> None:
        from django.db import connection

        from tickstream.trading import selectors

        if connection.vendor != "sqlite":
            # Its own connection, as a separate process would have: the database's locks,
            # not this process's threads, keep two engines from filling an order twice.
            # (SQLite takes one writer at a time anyway: it shares Django's sync thread.)
            self._executor = ThreadPoolExecutor(1, thread_name_prefix="trading-writer")
            self._context = contextvars.Context()
        self._queue = asyncio.Queue()
        self._started_at = timezone.now()
        markets = await self._db(selectors.markets)
        self.engine = matching.Engine(markets, selectors.rules())
        self.known = {}
        await self.reconcile()
        from tickstream.trading.services import ENGINE_NOTICES

        self._notices = Listener(
            ENGINE_NOTICES, self.on_notice, name="matching engine", at_commit=self._told.append
        )
        await self._notices.start()
        await self._beat()
        self._tasks = [
            asyncio.create_task(self._write_loop(), name="trading writer"),
            asyncio.create_task(self._poll_loop(), name="trading poll"),
            asyncio.create_task(self._beat_loop(), name="trading beat"),
        ]
        log.info("matching engine %s started with %d open orders", self.instance, self.open)

    async def stop(self) -> None:
        from tickstream.trading.services import engine_gone

        if self._notices is not None:
            await self._notices.stop()
            self._notices = None
        if self._tasks:
            await self._queue.put(None)  # write what was queued, then end
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(asyncio.shield(self._tasks[0]), 10.0)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.engine = None
        log.info(
            "matching engine %s stopped: %d fills written, %d stale writes refused, "
            "%d events void (their order reloaded first)",
            self.instance,
            self.fills,
            self.stale,
            self.voided,
        )
        if self.creation_ms:
            log.info(
                "placement to engine: from commit %s over %d orders told by notice, "
                "%d read from the database; from creation %s; "
                "%d of them met a trade of their symbol before the engine had them",
                _figures(self.placement_ms),
                len(self.placement_ms),
                self.polled,
                _figures(self.creation_ms),
                self.late,
            )
        with contextlib.suppress(Exception):
            await self._db(lambda: engine_gone(name=self.instance))
        if self._executor is not None:
            from django.db import connections

            await asyncio.get_running_loop().run_in_executor(
                self._executor, self._context.run, connections.close_all
            )
            self._executor.shutdown()
            self._executor = None

    @property
    def open(self) -> int:
        return 0 if self.engine is None else len(self.engine.orders)

    # --- the tick path ---

    def on_tick(self, update: TickUpdate) -> None:
        engine = self.engine
        if engine is None:
            return
        if self._told:
            self._take_told()
        tick = update.tick
        self._last_trade_ns[tick.symbol] = tick.ts_recv
        ref = tick.trade_id or f"{tick.symbol}:{tick.ts_event}:{update.seq}"
        engine.on_trade(tick.symbol, tick.price, tick.size, ref, tick.ts_event)
        if engine.events:
            self._collect()

    def _collect(self) -> None:
        """Queue what the engine did, in the order it did it (a filled order's close is
        its fill's record)."""
        engine = self.engine
        assert engine is not None  # noqa: S101
        for event in engine.drain():
            if isinstance(event, OrderClosed):
                known = self.known.get(event.order)
                if known is not None:
                    known.gone = True
                if event.status is Status.FILLED:
                    continue
            self._event(event)

    def _event(self, event: OrderEvent) -> None:
        known = self.known.get(event.order)
        if known is None:  # pragma: no cover - every order in the engine is known
            log.error("order %s: an event for an order the engine does not know", event.order)
            return
        self._queue.put_nowait(Queued(event, known.version, known.generation))
        known.version += 1
        known.pending += 1
        if self._queue.qsize() > BACKLOG_WARNING:
            self._backlog.warn("%d trading events wait for the database", self._queue.qsize())

    # --- recording ---

    async def _write_loop(self) -> None:
        while True:
            event = await self._queue.get()
            batch = [] if event is None else [event]
            while not self._queue.empty() and len(batch) < 200:
                more = self._queue.get_nowait()
                if more is None:
                    event = None
                    break
                batch.append(more)
            if batch:
                await self._write(batch)
            if event is None:
                return

    async def _write(self, batch: list[Queued]) -> None:
        live = []
        for event in batch:  # events of an order reloaded since are void
            known = self.known.get(event.order)
            if known is not None and known.generation == event.generation:
                live.append(event)
            else:
                self.voided += 1
                self._settled(event.order)
        while True:
            try:
                results = await self._record(live)
                self._outages["record"].ok()
                break
            except Exception as exc:
                self._outages["record"].failed(exc)
                await asyncio.sleep(1.0)
        stale: set[int] = set()
        for event, ok in zip(live, results, strict=True):
            self._settled(event.order)
            if ok:
                self.fills += isinstance(event.event, OrderFilled)
            elif ok is False:
                self.stale += 1
                stale.add(event.order)
            # None: skipped, an earlier event of the order in this batch was stale
        if stale:
            await self.reload(stale)

    async def _db(self, fn: Any, *args: Any) -> Any:
        """Run database work of the engine: in Django's sync thread on SQLite; elsewhere in
        this engine's own thread and context, so with a connection of its own (Django keys
        connections by context), as a separate process would have, closed on stop."""
        if self._executor is None:
            return await db_call(fn, *args)
        call = reconnecting(fn)  # a connection broken by an outage is opened afresh
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._context.run, call, *args)

    async def _record(self, events: list[Queued]) -> list[bool | None]:
        """Write events; what they publish goes out from the loop once they committed."""
        from tickstream.stream.publish import deferred, send_published

        if self._executor is None:
            return await db_call(_record, events)

        def run() -> tuple[list[bool | None], list[dict[str, Any]]]:
            with deferred() as box:
                return _record(events), box

        results, messages = await self._db(run)
        await send_published(messages)
        return results

    def _settled(self, order_id: int) -> None:
        """One queued event of the order is done with; forget an order that left."""
        known = self.known.get(order_id)
        if known is None:
            return
        known.pending -= 1
        if known.pending <= 0 and known.gone:
            del self.known[order_id]

    # --- following the database ---

    async def on_notice(self, message: dict[str, Any]) -> None:
        """An order placed or cancelled elsewhere (`services._tell_engine`): read it if
        the engine holds something else of it."""
        try:
            order_id, version = int(message["id"]), int(message["version"])
            is_open = bool(message["open"])
        except (KeyError, TypeError, ValueError):
            log.warning("an unreadable order notice: %r", message)
            return
        if not self._stale(order_id, version, is_open) or self._take_new(message):
            return
        engine = self.engine
        data = message.get("order")
        new = engine is not None and order_id not in self.known and order_id not in engine.orders
        if is_open and data and new:
            try:
                noticed = _noticed(data)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                log.warning("an unreadable order in a notice: %r", data)
            else:
                await self._adopt(noticed, told=True)  # (its instrument new to the engine)
                self._told_figures(message, noticed.instrument.symbol)
                return
        await self.reload({order_id})

    def _take_told(self) -> None:
        """The notices handed over at their commit: each new order taken in now."""
        while self._told:
            self._take_new(self._told.popleft())  # (anything else: on_notice has it next)

    def _take_new(self, message: dict[str, Any]) -> bool:
        """A notice of a new open order, taken in as told with no read: True if it was
        (False: not such a notice, or its instrument is new to the engine)."""
        engine = self.engine
        data = message.get("order")
        if engine is None or not data or not message.get("open"):
            return False
        order_id = message.get("id")
        if order_id in self.known or order_id in engine.orders:
            return False
        try:
            noticed = _noticed(data)
        except (KeyError, TypeError, ValueError, ArithmeticError):
            return False
        if not self._adopt_now(noticed, told=True):
            return False
        self._told_figures(message, noticed.instrument.symbol)
        return True

    def _told_figures(self, message: dict[str, Any], symbol: str) -> None:
        sent = message.get("sent")
        if isinstance(sent, float):
            self.placement_ms.append((time.time() - sent) * 1000)
            self.late += self._last_trade_ns.get(symbol, 0) > sent * 1e9

    async def reload(self, order_ids: set[int]) -> None:
        """Drop what the engine holds of these orders and take them again as the
        database has them (open ones only)."""
        from tickstream.trading.models import Order as OrderRow

        rows = await self._db(
            lambda: list(OrderRow.objects.filter(pk__in=order_ids).select_related("instrument"))
        )
        engine = self.engine
        if engine is None:
            return
        held = {row.pk for row in rows if self._holds_as_read(row)}
        rows = [row for row in rows if row.pk not in held]
        for order_id in order_ids - held:
            engine.forget(order_id)
            known = self.known.pop(order_id, None)
            if known is not None and known.pending:  # its queued events are void
                self.known[order_id] = _Known(
                    known.version, known.generation + 1, known.pending, gone=True
                )
        for row in rows:
            if row.is_open:
                await self._adopt(row)

    def _holds_as_read(self, row: Any) -> bool:
        """Whether the engine holds this open order just as the database has it (taken in
        by its notice while it was read, say): then it is kept, and with it its place in
        line; dropped and taken in again, it would queue behind orders placed after it."""
        engine, known = self.engine, self.known.get(row.pk)
        if engine is None or known is None or known.pending or known.gone or not row.is_open:
            return False
        held = engine.orders.get(row.pk)
        if held is None or known.version != row.version or engine.held[row.pk] != row.held:
            return False
        read = pure_order(row)
        fields = ("status", "filled", "triggered", "fees", "notional")
        return all(getattr(held, f) == getattr(read, f) for f in fields)

    async def _adopt(self, row: Any, *, told: bool = False) -> None:
        """Hold an open order as the database has it (`row.held`: the funds it reserves);
        `told`: from a notice, else read from the database."""
        if not self._adopt_now(row, told=told):
            from tickstream.trading import selectors

            markets = await self._db(selectors.markets)  # an instrument new to the engine
            if self.engine is not None:  # (still running after the read)
                self.engine.markets = {m.symbol: m for m in markets}
                if not self._adopt_now(row, told=told):
                    log.error("order %s cannot be matched: unknown instrument", row.pk)

    def _adopt_now(self, row: Any, *, told: bool = False) -> bool:
        """`_adopt` without reading: False (nothing done) when the order's instrument is
        not among the engine's markets."""
        engine = self.engine
        if engine is None:
            return True
        order, held = pure_order(row), row.held
        known = self.known.get(order.id)
        generation = 0 if known is None else known.generation + 1
        pending = 0 if known is None else known.pending
        try:
            engine.adopt(order, held)
        except matching.OrderError as exc:
            if exc.code == "unknown_instrument":
                return False
            log.error("order %s cannot be matched: %s", order.id, exc)
            return True
        self.known[order.id] = _Known(row.version, generation, pending, row.expires_at)
        if known is None and row.created_at >= self._started_at:
            self.creation_ms.append((time.time() - row.created_at.timestamp()) * 1000)
            self.polled += 0 if told else 1
        if row.expires_at is not None:
            heapq.heappush(self._expiry, (row.expires_at, order.id))
        return True

    async def reconcile(self) -> None:
        """Compare every open order in the database with the engine's."""
        from tickstream.trading import selectors

        rows = await self._db(lambda: list(selectors.open_orders()))
        engine = self.engine
        if engine is None:
            return
        current = {row.pk: row for row in rows}
        for order_id in list(engine.orders):
            known = self.known.get(order_id)
            if order_id not in current and (known is None or not known.pending):
                await self.reload({order_id})
        changed = set()
        for row in rows:
            if row.pk not in self.known:
                await self._adopt(row)  # the rows are read already
            elif self._stale(row.pk, row.version, True):
                changed.add(row.pk)
        if changed:
            await self.reload(changed)

    def _stale(self, order_id: int, version: int, is_open: bool) -> bool:
        """Whether the database's order differs from what the engine holds of it."""
        known = self.known.get(order_id)
        if known is None:
            return is_open  # placed since the engine looked
        if known.pending or known.gone:
            return False  # the writer settles it: a stale write reloads the order
        return version != known.version  # cancelled or changed by someone else

    async def poll(self) -> None:
        """Orders changed since the last look (ids and versions only: whole rows are read
        for the few that differ from what the engine holds)."""
        from tickstream.trading.models import Order as OrderRow
        from tickstream.trading.selectors import OPEN_STATUSES

        started = timezone.now()
        since = (self._polled or started) - LOOK_BACK
        rows = await self._db(
            lambda: list(
                OrderRow.objects.filter(updated_at__gte=since).values_list(
                    "id", "version", "status"
                )
            )
        )
        self._polled = started
        changed = {i for i, v, status in rows if self._stale(i, v, status in OPEN_STATUSES)}
        if changed:
            await self.reload(changed)
        self.expire(started)

    def expire(self, now: datetime) -> None:
        """DAY orders whose session ended."""
        engine = self.engine
        while engine is not None and self._expiry and self._expiry[0][0] <= now:
            _, order_id = heapq.heappop(self._expiry)
            order = engine.orders.get(order_id)
            if order is not None and order.is_open:
                engine.expire(order_id, datetime_to_ns(now))
                self._collect()

    async def _poll_loop(self) -> None:
        reconciled = time.monotonic()
        while True:
            await asyncio.sleep(settings.TRADING_POLL_S)
            try:
                if time.monotonic() - reconciled > RECONCILE_S:
                    reconciled = time.monotonic()
                    await self.reconcile()
                await self.poll()
                self._outages["poll"].ok()
            except Exception as exc:
                self._outages["poll"].failed(exc)

    async def _beat(self) -> None:
        from tickstream.trading.services import engine_beat

        await self._db(lambda: engine_beat(name=self.instance, started_at=self._started_at))

    async def _beat_loop(self) -> None:
        while True:
            await asyncio.sleep(BEAT_S)
            try:
                await self._beat()
                self._outages["beat"].ok()
            except Exception as exc:
                self._outages["beat"].failed(exc)


def _figures(samples: deque[float]) -> str:
    ordered = sorted(samples) or [0.0]
    p99 = ordered[min(len(ordered) - 1, len(ordered) * 99 // 100)]
    return f"median {ordered[len(ordered) // 2]:.2f} ms, p99 {p99:.2f} ms, max {ordered[-1]:.2f} ms"


def _record(events: list[Queued]) -> list[bool | None]:
    """Write events in order, each in its own transaction: True written, False stale
    (nothing written), None skipped after an earlier stale event of the same order."""
    from tickstream.trading import services

    results: list[bool | None] = []
    stale: set[int] = set()
    for queued in events:
        if queued.order in stale:
            results.append(None)
            continue
        version, event = queued.version, queued.event
        match event:
            case OrderFilled():
                ok = services.fill_record(version=version, filled=event)
            case OrderClosed():
                ok = services.order_close_record(
                    order_id=event.order, version=version, status=event.status,
                    reason=event.reason,
                )  # fmt: skip
            case OrderTriggered():
                ok = services.order_trigger_record(order_id=event.order, version=version)
        if not ok:
            stale.add(queued.order)
        results.append(ok)
    return results
