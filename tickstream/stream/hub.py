"""The Hub: fan-out of market data and published events inside one web process.

One Hub per process (per event loop) joins the channel-layer group of a symbol when the
first local subscriber of any of its channels arrives and leaves it with the last. It keeps
the latest state of every channel it carries, so snapshots and resumes come from memory.
Every `STREAM_FLUSH_MS` it encodes each changed channel once per wire format and hands the
same bytes to every subscriber, one batched frame per connection.

State channels (ticker, candles, analysis) are conflated: an update carries the whole
current value, so a skipped `seq` between two updates is not a loss. Trades are sent one by
one up to a bound per flush; beyond it, and whenever trades cannot be sent, a `gap` message
names the missed sequence numbers. A connection that stops reading gets nothing more until
its queue drains, then one catch-up (the resume path) per channel; one that stays behind
too long is closed by its consumer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from tickstream.stream.groups import market_group, publish_group
from tickstream.stream.protocol import ChannelKind, ChannelRef, ErrorCode, ProtocolError, encode

log = logging.getLogger(__name__)

TRADE_HISTORY = 256  # trades kept per symbol for resume
CLOSED_HISTORY = 64  # closed candles kept per symbol and interval for resume
PUBLISHED_HISTORY = 100
MAX_TRADES_PER_FLUSH = 200
SNAPSHOT_TIMEOUT_S = 5.0

Message = dict[str, Any]
Encoder = Callable[[ChannelRef, "SymbolView"], "Message | None"]


class Subscriber(Protocol):
    """A connection as the Hub sees it (the consumers implement this)."""

    wire: str  # "v1" or the name of a tutorial format
    batch: bool  # True: one JSON array frame per flush; False: one frame per message

    def deliver(self, frame: bytes) -> None: ...

    def backlog(self) -> int: ...

    def check_slow(self) -> None: ...


@dataclass(slots=True)
class SymbolView:
    """What the Hub holds for one symbol: the latest state and short histories."""

    symbol: str
    epoch: int = 0
    seq: int = 0
    analysis_seq: int = 0
    quote: Message | None = None
    candles: dict[str, Message] = field(default_factory=dict)
    analysis: dict[str, Message] = field(default_factory=dict)
    trades: deque[tuple[int, Message]] = field(default_factory=lambda: deque(maxlen=TRADE_HISTORY))
    closed: dict[str, deque[tuple[int, Message]]] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)
    waiting: list[Message] = field(default_factory=list)  # ticks that beat the snapshot
    resyncing: bool = True  # until the first snapshot is in, ticks wait
    failed: bool = False  # no pipeline answered the snapshot request
    error: ProtocolError | None = None  # why subscribers cannot have this symbol

    def apply_snapshot(self, snap: Message) -> None:
        self.epoch, self.seq = snap["epoch"], snap["seq"]
        self.analysis_seq = snap["analysis_seq"]
        self.quote = snap["quote"]
        self.candles = dict(snap["candles"])
        self.analysis = dict(snap["analysis"])
        self.trades.clear()
        self.closed.clear()

    def apply_tick(self, m: Message) -> None:
        self.seq = m["seq"]
        self.quote = m["quote"]
        self.candles.update(m["candles"])
        self.trades.append((m["seq"], m["trade"]))
        for c in m["closed"]:
            self.closed.setdefault(c["interval"], deque(maxlen=CLOSED_HISTORY)).append(
                (m["seq"], c)
            )
        if "analysis" in m:
            self.analysis = m["analysis"]
            self.analysis_seq = m["analysis_seq"]


def v1_state(ref: ChannelRef, view: SymbolView) -> tuple[int, Any]:
    """(seq, data) of a state channel in protocol v1."""
    if ref.kind is ChannelKind.TICKER:
        return view.seq, view.quote
    if ref.kind is ChannelKind.ANALYSIS:
        return view.analysis_seq, view.analysis
    return view.seq, {"candle": view.candles.get(ref.interval or ""), "closed": []}


def v1_snapshot(ref: ChannelRef, view: SymbolView, *, reset: bool) -> Message:
    if ref.kind is ChannelKind.TRADES:
        seq, data = view.seq, [t for _, t in view.trades]
    else:
        seq, data = v1_state(ref, view)
    return {
        "type": "snapshot",
        "channel": ref.name,
        "epoch": view.epoch,
        "seq": seq,
        "reset": reset,
        "data": data,
    }


def v1_since(ref: ChannelRef, view: SymbolView, since: int) -> list[Message]:
    """What a v1 subscriber that has seen `since` needs to be current, or a reset snapshot."""
    if since > view.seq:
        return [v1_snapshot(ref, view, reset=True)]
    if ref.kind is ChannelKind.TRADES:
        missed = [(s, t) for s, t in view.trades if s > since]
        first = missed[0][0] if missed else view.seq + 1
        if first > since + 1:
            return [v1_snapshot(ref, view, reset=True)]  # older than the Hub's history
        return [{"type": "update", "channel": ref.name, "seq": s, "data": t} for s, t in missed]
    if ref.kind is ChannelKind.CANDLES:
        interval = ref.interval or ""
        history = view.closed.get(interval, deque())
        if len(history) == history.maxlen and history[0][0] > since:
            return [v1_snapshot(ref, view, reset=True)]  # closed candles were evicted
        closed = [c for s, c in history if s > since]
        return [
            {
                "type": "update",
                "channel": ref.name,
                "seq": view.seq,
                "data": {"candle": view.candles.get(ref.interval), "closed": closed},
            }
        ]
    seq, data = v1_state(ref, view)
    if seq <= since or data is None:
        return []
    return [{"type": "update", "channel": ref.name, "seq": seq, "data": data}]


class Hub:
    """Fan-out for one process. Consumers call `subscribe`, `unsubscribe`, `drop`, `drained`."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        snapshot: Callable[[str], Awaitable[Message]],
        *,
        flush_ms: int = 100,
        symbol_exists: Callable[[str], Awaitable[bool]] | None = None,
    ) -> None:
        self.layer = layer
        self.snapshot_source = snapshot
        self.flush_s = flush_ms / 1000
        self.symbol_exists = symbol_exists
        self.formats: dict[str, Encoder] = {}
        self.views: dict[str, SymbolView] = {}
        self.subscribers: dict[str, set[Subscriber]] = {}
        self.refs: dict[str, ChannelRef] = {}
        self.by_symbol: dict[str, set[str]] = {}
        self.published: dict[str, deque[tuple[int, Message]]] = {}
        self._published_seq: dict[str, int] = {}
        self._slow: dict[Subscriber, dict[str, int]] = {}
        self._dirty: dict[str, None] = {}
        self._trades: dict[str, list[tuple[int, Message]]] = {}
        self._gaps: dict[str, list[int]] = {}
        self._closed: dict[str, list[Message]] = {}
        self._sent_seq: dict[str, int] = {}
        self._channel = ""
        self.connections: set[Subscriber] = set()
        self.heartbeat_s = 15.0
        self._tasks: list[asyncio.Task[None]] = []
        self._loading: set[asyncio.Task[None]] = set()
        # Per connection, channels it has just been given a snapshot of, with the snapshot's
        # seq: the next flush leaves out what that snapshot already held.
        self._joined: dict[Subscriber, dict[str, int]] = {}
        self.stats = {
            "ticks": 0,
            "frames": 0,
            "updates": 0,
            "conflated": 0,
            "trade_gaps": 0,
            "resyncs": 0,
        }

    # --- lifecycle ---

    async def start(self) -> None:
        try:
            self._channel = await self.layer.new_channel("hub.")
        except Exception as exc:  # the receive loop keeps trying
            log.warning("hub: the broker is unreachable at start (%s)", exc)
        self._tasks = [
            asyncio.create_task(self._receive_loop(), name="hub receive"),
            asyncio.create_task(self._heartbeat_loop(), name="hub heartbeat"),
        ]
        if self.flush_s > 0:
            self._tasks.append(asyncio.create_task(self._flush_loop(), name="hub flush"))

    async def stop(self) -> None:
        tasks = [*self._tasks, *self._loading]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for symbol in list(self.views):
            with contextlib.suppress(Exception):  # the broker may be gone already
                await self.layer.group_discard(market_group(symbol), self._channel)

    # --- subscriptions ---

    async def subscribe(
        self,
        conn: Subscriber,
        ref: ChannelRef,
        *,
        group: str | None = None,
        since: int | None = None,
        epoch: int | None = None,
    ) -> list[Message]:
        """Add a subscription; return the messages that bring the connection up to date."""
        key = ref.name if ref.public else (group or publish_group(ref.name))
        first = key not in self.subscribers
        view = SymbolView("")
        if ref.public and ref.symbol is not None:
            view = await self._view(ref.symbol)
            if first:
                self.by_symbol.setdefault(ref.symbol, set()).add(ref.name)
        elif first:
            try:
                if not self._channel:
                    raise ConnectionError("the Hub has no broker channel yet")
                await self.layer.group_add(key, self._channel)
            except Exception as exc:
                log.warning("cannot follow %s: %s", key, exc)
                raise ProtocolError(
                    ErrorCode.UNAVAILABLE, "this channel is not available now (the broker failed)"
                ) from None
        self.refs[key] = ref
        self.subscribers.setdefault(key, set()).add(conn)
        self.connections.add(conn)
        if not ref.public:
            history = self.published.get(key, deque())
            return [m for s, m in history if since is not None and s > since]
        if conn.wire != "v1":
            message = self.formats[conn.wire](ref, view)
            return [] if message is None else [message]
        if since is not None and epoch in (None, view.epoch):
            messages = v1_since(ref, view, since)
        else:
            messages = [v1_snapshot(ref, view, reset=since is not None)]
        # What is pending for the channel's next flush is already in these messages.
        self._joined.setdefault(conn, {})[key] = self._current_seq(key)
        return messages

    async def unsubscribe(
        self, conn: Subscriber, ref: ChannelRef, group: str | None = None
    ) -> None:
        key = ref.name if ref.public else (group or publish_group(ref.name))
        subs = self.subscribers.get(key)
        if not subs or conn not in subs:
            return
        subs.discard(conn)
        self._slow.get(conn, {}).pop(key, None)
        if subs:
            return
        del self.subscribers[key]
        self.refs.pop(key, None)
        if not ref.public:
            await self._leave(key)
            return
        symbol = ref.symbol or ""
        names = self.by_symbol.get(symbol, set())
        names.discard(ref.name)
        if not names:
            self.by_symbol.pop(symbol, None)
            self.views.pop(symbol, None)
            await self._leave(market_group(symbol))

    async def _leave(self, group: str) -> None:
        try:
            await self.layer.group_discard(group, self._channel)
        except Exception as exc:  # the broker forgets the membership when it comes back
            log.warning("could not leave %s: %s", group, exc)

    async def drop(
        self, conn: Subscriber, subscriptions: dict[str, tuple[ChannelRef, str | None]]
    ) -> None:
        """Remove every subscription of a closed connection."""
        for ref, group in subscriptions.values():
            await self.unsubscribe(conn, ref, group)
        self._slow.pop(conn, None)
        self._joined.pop(conn, None)
        self.connections.discard(conn)

    async def _view(self, symbol: str) -> SymbolView:
        """The view of a symbol, ready. The first subscriber creates it (before any await,
        so however subscriptions interleave there is one view per symbol) and a task of
        its own loads it; every subscriber waits for that one load."""
        view = self.views.get(symbol)
        if view is None:
            view = self.views[symbol] = SymbolView(symbol)
            task = asyncio.get_running_loop().create_task(self._load(view), name=f"load {symbol}")
            self._loading.add(task)
            task.add_done_callback(self._loading.discard)
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
                await view.ready.wait()
        except TimeoutError:
            view.failed = True
        if view.failed or view.error is not None:
            if self.views.get(symbol) is view and not self.by_symbol.get(symbol):
                del self.views[symbol]
                with contextlib.suppress(Exception):
                    await self.layer.group_discard(market_group(symbol), self._channel)
            raise view.error or ProtocolError(
                ErrorCode.UNAVAILABLE, "market data is not available now (no pipeline answered)"
            )
        return view

    async def _load(self, view: SymbolView) -> None:
        symbol = view.symbol
        try:
            if not self._channel:
                raise ConnectionError("the Hub has no broker channel yet")
            if self.symbol_exists is not None and not await self.symbol_exists(symbol):
                view.error = ProtocolError(ErrorCode.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
            else:
                await self.layer.group_add(market_group(symbol), self._channel)
        except Exception as exc:
            log.warning("cannot follow %s: %s", symbol, exc)
            view.error = ProtocolError(
                ErrorCode.UNAVAILABLE, "market data is not available now (the broker failed)"
            )
        if view.error is not None:
            view.ready.set()
            return
        await self._resync(view)

    async def _resync(self, view: SymbolView) -> None:
        """Fetch an exact snapshot; ticks arriving meanwhile wait, newer ones apply after."""
        view.resyncing = True
        try:
            snap = await self.snapshot_source(view.symbol)
        except Exception as exc:
            log.warning("no snapshot of %s: %s", view.symbol, exc)
            view.resyncing = False
            view.failed = True
            view.ready.set()  # wake the subscribers waiting for it: they get `unavailable`
            return
        view.apply_snapshot(snap)
        waiting, view.waiting = view.waiting, []
        view.resyncing = False
        view.ready.set()
        for m in waiting:
            if m["epoch"] == view.epoch and m["seq"] > view.seq:
                self._on_tick(m)

    # --- incoming ---

    async def _open_channel(self) -> None:
        """Get the Hub's channel on the broker, waiting out an outage with backoff;
        subscriptions meanwhile are answered `unavailable`."""
        failures = 0
        while not self._channel:
            try:
                self._channel = await self.layer.new_channel("hub.")
            except Exception as exc:
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                log.warning("hub: the broker is unreachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)

    async def _receive_loop(self) -> None:
        await self._open_channel()
        failures = 0
        while True:
            try:
                message = await self.layer.receive(self._channel)
                failures = 0
            except Exception as exc:  # the broker went away: it resubscribes when back
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                log.warning("hub: receiving failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                continue
            try:
                kind = message.get("type")
                if kind == "market.tick":
                    self._on_tick(message)
                elif kind == "stream.publish":
                    self._on_publish(message)
                if self.flush_s == 0:
                    self.flush()
            except Exception:
                log.exception("hub could not handle a %s message", message.get("type"))

    def _on_tick(self, m: Message) -> None:
        view = self.views.get(m["symbol"])
        if view is None:
            return
        if view.resyncing:
            view.waiting.append(m)
            return
        if m["epoch"] != view.epoch or m["seq"] > view.seq + 1:
            # The pipeline restarted, or broker messages were lost: start again from an
            # exact snapshot; subscribers get reset snapshots, never a silent gap.
            self.stats["resyncs"] += 1
            view.waiting.append(m)
            view.resyncing = True  # later ticks wait for the snapshot too
            task = asyncio.get_running_loop().create_task(self._reset(view))
            self._loading.add(task)
            task.add_done_callback(self._loading.discard)
            return
        if m["seq"] <= view.seq:
            return  # already applied (a snapshot covered it)
        self.stats["ticks"] += 1
        view.apply_tick(m)
        for name in self.by_symbol.get(view.symbol, ()):
            ref = self.refs[name]
            if ref.kind is ChannelKind.TRADES:
                pending = self._trades.setdefault(name, [])
                if len(pending) < MAX_TRADES_PER_FLUSH:
                    pending.append((m["seq"], m["trade"]))
                else:
                    gap = self._gaps.setdefault(name, [m["seq"], m["seq"]])
                    gap[1] = m["seq"]
                continue
            if ref.kind is ChannelKind.ANALYSIS and "analysis" not in m:
                continue
            if ref.kind is ChannelKind.CANDLES:
                closed = [c for c in m["closed"] if c["interval"] == ref.interval]
                if closed:
                    self._closed.setdefault(name, []).extend(closed)
            if name in self._dirty:
                self.stats["conflated"] += 1
            self._dirty[name] = None

    async def _reset(self, view: SymbolView) -> None:
        view.ready.clear()
        await self._resync(view)
        for name in self.by_symbol.get(view.symbol, ()):
            ref = self.refs[name]
            for conn in list(self.subscribers.get(name, ())):
                if conn.wire == "v1":
                    conn.deliver(encode(v1_snapshot(ref, view, reset=True)))

    def _on_publish(self, m: Message) -> None:
        key = m["group"]
        seq = self._published_seq.get(key, 0) + 1
        self._published_seq[key] = seq
        update = {"type": "update", "channel": m["channel"], "seq": seq, "data": m["data"]}
        self.published.setdefault(key, deque(maxlen=PUBLISHED_HISTORY)).append((seq, update))
        frame = encode(update)
        for conn in list(self.subscribers.get(key, ())):
            conn.deliver(b"[" + frame + b"]" if conn.batch else frame)

    # --- outgoing ---

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            self.beat()

    def beat(self) -> None:
        """Send a heartbeat to every v1 connection and let each check whether it is slow."""
        frame = encode({"type": "heartbeat", "time": _now_ms()})
        for conn in list(self.connections):
            if conn.wire == "v1":
                conn.deliver(frame)
            conn.check_slow()

    async def _flush_loop(self) -> None:
        """Flush at a fixed rate: the time a flush takes does not stretch the interval."""
        loop = asyncio.get_running_loop()
        deadline = loop.time()
        while True:
            deadline += self.flush_s
            delay = deadline - loop.time()
            if delay < 0:  # a flush overran a whole interval: start counting afresh
                deadline, delay = loop.time(), 0
            await asyncio.sleep(delay)
            try:
                self.flush()
            except Exception:
                log.exception("hub flush failed")

    def _encode_channel(self, name: str, wire: str) -> list[tuple[int, int, bytes]]:
        """The frames of a channel's update for one wire format, each with the range of
        seq it covers (a gap notice covers several)."""
        ref = self.refs[name]
        view = self.views[ref.symbol or ""]
        if wire != "v1":
            message = self.formats[wire](ref, view)
            return [] if message is None else [(view.seq, view.seq, encode(message))]
        if ref.kind is ChannelKind.TRADES:
            parts = [
                (s, s, encode({"type": "update", "channel": name, "seq": s, "data": t}))
                for s, t in self._trades.get(name, ())
            ]
            gap = self._gaps.get(name)
            if gap is not None:  # the trades past the bound of one flush
                parts.append((gap[0], gap[1], _gap_frame(name, gap[0], gap[1])))
            return parts
        seq, data = v1_state(ref, view)
        if ref.kind is ChannelKind.CANDLES:
            data = {"candle": data["candle"], "closed": self._closed.get(name, [])}
        return [(seq, seq, encode({"type": "update", "channel": name, "seq": seq, "data": data}))]

    def flush(self) -> None:
        """Send every changed channel to its subscribers: encoded once per wire format."""
        dirty = list(self._dirty) + [
            n for n in {**self._trades, **self._gaps} if n not in self._dirty
        ]
        self._dirty.clear()
        if not dirty:
            self._trades.clear()
            self._gaps.clear()
            self._closed.clear()
            self._joined.clear()
            return
        outbox: dict[Subscriber, list[bytes]] = {}
        for name in dirty:
            if name not in self.refs:
                continue
            encoded: dict[str, list[bytes]] = {}
            for conn in self.subscribers.get(name, ()):
                slow = self._slow.get(conn)
                if slow is not None or conn.backlog() > STREAM_HIGH_WATER:
                    if slow is None:
                        slow = self._slow[conn] = {}
                    slow.setdefault(name, self._sent_seq.get(name, 0))
                    continue
                parts = encoded.get(conn.wire)
                if parts is None:
                    parts = encoded[conn.wire] = self._encode_channel(name, conn.wire)
                joined = self._joined.get(conn)
                since = None if joined is None else joined.get(name)
                if since is None:
                    frames = [frame for _, _, frame in parts]
                else:  # its snapshot already holds everything up to `since`
                    frames = [
                        frame if first > since else _gap_frame(name, since + 1, last)
                        for first, last, frame in parts
                        if last > since
                    ]
                if frames:
                    outbox.setdefault(conn, []).extend(frames)
            self._sent_seq[name] = self._current_seq(name)
            if name in self._gaps:
                self.stats["trade_gaps"] += 1
        self._trades.clear()
        self._gaps.clear()
        self._closed.clear()
        self._joined.clear()
        for conn in list(self._slow):  # the ones held back: close those behind for too long
            conn.check_slow()
        for conn, parts in outbox.items():
            self.stats["updates"] += len(parts)
            if conn.batch:
                conn.deliver(b"[" + b",".join(parts) + b"]")
                self.stats["frames"] += 1
            else:
                for part in parts:
                    conn.deliver(part)
                self.stats["frames"] += len(parts)

    def _current_seq(self, name: str) -> int:
        ref = self.refs[name]
        view = self.views.get(ref.symbol or "")
        if view is None:
            return 0
        return view.analysis_seq if ref.kind is ChannelKind.ANALYSIS else view.seq

    def drained(self, conn: Subscriber) -> None:
        """A connection's queue emptied: if it fell behind, catch it up (conflated)."""
        missed = self._slow.pop(conn, None)
        if not missed:
            return
        parts: list[bytes] = []
        for name, since in missed.items():
            ref = self.refs.get(name)
            if ref is None or ref.symbol not in self.views:
                continue
            view = self.views[ref.symbol]
            if conn.wire == "v1":
                parts += [encode(m) for m in v1_since(ref, view, since)]
            else:
                message = self.formats[conn.wire](ref, view)
                if message is not None:
                    parts.append(encode(message))
        if parts:
            if conn.batch:
                conn.deliver(b"[" + b",".join(parts) + b"]")
            else:
                for part in parts:
                    conn.deliver(part)

    def is_slow(self, conn: Subscriber) -> bool:
        return conn in self._slow


STREAM_HIGH_WATER = 8  # frames queued for a connection before it is treated as slow


def _gap_frame(channel: str, first: int, last: int) -> bytes:
    return encode({"type": "gap", "channel": channel, "from": first, "to": last})


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_starting: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}


async def get_hub() -> Hub:
    """The Hub of the running event loop, started on first use."""
    from asgiref.sync import sync_to_async
    from channels.layers import get_channel_layer
    from django.conf import settings

    from tickstream.market.models import Instrument
    from tickstream.market.pipeline_client import market_snapshot

    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None:
        return hub
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        hub = _hubs.get(loop)
        if hub is None:
            layer = get_channel_layer()
            if layer is None:
                raise RuntimeError("the Hub needs a channel layer")

            async def exists(symbol: str) -> bool:
                return await sync_to_async(
                    Instrument.objects.filter(symbol=symbol, active=True).exists
                )()

            hub = Hub(
                layer, market_snapshot, flush_ms=settings.STREAM_FLUSH_MS, symbol_exists=exists
            )
            hub.heartbeat_s = settings.STREAM_HEARTBEAT_S
            from tickstream.stream.compat import register_formats

            register_formats(hub)
            await hub.start()
            _hubs[loop] = hub
    return hub


async def stop_hub() -> None:
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()
