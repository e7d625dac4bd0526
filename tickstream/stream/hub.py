"""The Hub: the asyncio driver of the fan-out core inside one web process.

One Hub per process (per event loop). The pure core (`stream/core/fanout.py`) decides what
goes to whom; the Hub owns what waits: the broker (it joins the channel-layer group of a
symbol when its first local subscriber arrives and leaves with the last), the exact
snapshots it fetches from the pipeline, the flush timer (every `STREAM_FLUSH_MS`), the
heartbeat, and the sockets it hands frames to. It knows no endpoint and no database: the
snapshot source and the instrument check are given to it (`configure`), and message
formats other than v1 come from the channel registry.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from channels.layers import BaseChannelLayer

from tickstream.market.broker import market_group
from tickstream.stream.core.derived import Derived
from tickstream.stream.core.fanout import HIGH_WATER, Effects, FanOut
from tickstream.stream.core.protocol import ChannelRef, ErrorCode, ProtocolError, encode
from tickstream.stream.core.views import Encoder, Message, SymbolView
from tickstream.stream.groups import publish_group
from tickstream.stream.notices import Listener
from tickstream.stream.revocation import REVOCATIONS, revoked

log = logging.getLogger(__name__)

SNAPSHOT_TIMEOUT_S = 5.0
# A derived value's symbol whose market data was not available: asked for again after
# these pauses (s), then given up (about a minute in all).
FOLLOW_RETRY_S = (1.0, 2.0, 5.0, 10.0, 20.0, 30.0)
STREAM_HIGH_WATER = HIGH_WATER
FILL_DELAY_S = 0.25  # a message ahead of a missing one waits this long before the log is read


class History(Protocol):
    """What the event log holds of a sequenced group (`stream/events.py`)."""

    current: int
    events: list[Message]
    complete: bool


SnapshotSource = Callable[[str], Awaitable[Message]]
HistorySource = Callable[[str, "int | None"], Awaitable[History]]
CurrentsSource = Callable[[list[str]], Awaitable[dict[str, int]]]
AUDIT_S = 5.0  # how often the sequenced groups followed here are checked against the log
SymbolCheck = Callable[[str], Awaitable[bool]]
DeriveSource = Callable[[], Awaitable[Derived]]


class Subscriber(Protocol):
    """A connection as the Hub sees it (the consumers implement this)."""

    wire: str  # "v1" or the name of a tutorial format
    batch: bool  # True: one JSON array frame per flush; False: one frame per message

    def deliver(self, frame: bytes) -> None: ...

    def backlog(self) -> int: ...

    def check_slow(self) -> None: ...

    async def sign_out(self) -> None: ...


@dataclass(slots=True)
class _Load:
    """The one load (a symbol's view, a group's starting number) every subscriber waits for."""

    ready: asyncio.Event = field(default_factory=asyncio.Event)
    error: ProtocolError | None = None

    async def wait(self, unanswered: str) -> None:
        """Wait for it, at most SNAPSHOT_TIMEOUT_S: past that it failed (`unanswered`)."""
        try:
            async with asyncio.timeout(SNAPSHOT_TIMEOUT_S):
                await self.ready.wait()
        except TimeoutError:
            self.error = self.error or ProtocolError(ErrorCode.UNAVAILABLE, unanswered)


class Hub:
    """Fan-out for one process. Consumers call `subscribe`, `unsubscribe`, `drop`, `drained`."""

    def __init__(
        self,
        layer: BaseChannelLayer,
        snapshot: SnapshotSource,
        *,
        flush_ms: int = 100,
        symbol_exists: SymbolCheck | None = None,
        formats: dict[str, Encoder] | None = None,
        history: HistorySource | None = None,
        currents: CurrentsSource | None = None,
    ) -> None:
        self.layer = layer
        self.snapshot_source = snapshot
        self.history = history
        self.currents = currents
        self.audit_s = AUDIT_S
        self.flush_s = flush_ms / 1000
        self.symbol_exists = symbol_exists
        self.core = FanOut(formats)
        self.connections: set[Subscriber] = set()
        self.heartbeat_s = 15.0
        self.flushes = 0  # flushes done (for monitoring and tests)
        self._channel = ""
        self._loads: dict[str, _Load] = {}
        self._starts: dict[str, _Load] = {}  # sequenced groups waiting for their number
        self._tasks: list[asyncio.Task[None]] = []
        self._background: set[asyncio.Task[None]] = set()
        self._revocations = Listener(REVOCATIONS, self.revoke, name="hub revocations", layer=layer)
        self.signed_out = 0  # sockets closed by a revocation

    # The core's state, for tests and monitoring.
    @property
    def views(self) -> dict[str, SymbolView]:
        return dict(self.core.views)  # a copy: monitoring reads, never changes, them

    @property
    def stats(self) -> dict[str, int]:
        return self.core.stats

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
        if self.currents is not None and self.audit_s > 0:
            self._tasks.append(asyncio.create_task(self._audit_loop(), name="hub audit"))
        await self._revocations.start(wait=0)  # a socket opens without waiting for it

    async def stop(self) -> None:
        await self._revocations.stop()
        tasks = [*self._tasks, *self._background]
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for symbol in self.core.symbols():
            await self._leave(market_group(symbol))

    def _spawn(self, coro: Any, name: str) -> None:
        task = asyncio.get_running_loop().create_task(coro, name=name)
        self._background.add(task)
        task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task[None]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("hub: %s failed", task.get_name(), exc_info=task.exception())

    async def revoke(self, message: dict[str, Any]) -> None:
        """A token, session or password revoked (`revocation.py`): close the sockets here
        that signed in with it. O(this process's sockets)."""
        for conn in list(self.connections):
            scope = getattr(conn, "scope", None) or {}
            user = scope.get("user")
            user_id = user.pk if user is not None and user.is_authenticated else None
            if revoked(message, user_id, scope.get("credential")):
                self.signed_out += 1
                await conn.sign_out()

    # --- subscriptions ---

    async def subscribe(
        self,
        conn: Subscriber,
        ref: ChannelRef,
        *,
        group: str | None = None,
        since: int | None = None,
        epoch: int | None = None,
        derive: DeriveSource | None = None,
        sequenced: bool = False,
    ) -> list[Message]:
        """Add a subscription; return the messages that bring the connection up to date.
        A published channel is keyed by its broker `group` (its name's group by default).
        A `sequenced` one is numbered by the event log: its subscriber gets nothing until
        `catch_up`. With `derive` its value is derived from market prices here (`Derived`),
        and every subscriber, resuming or not, starts from that value's snapshot (it is
        whole, so nothing is missed on any process)."""
        if ref.public and ref.symbol is not None:
            view = await self._view(ref.symbol)
            messages = self.core.add(conn, ref, ref.name, view=view, since=since, epoch=epoch)
        else:
            key = group or publish_group(ref.name)
            sequenced = sequenced and self.history is not None
            if not self.core.follows(key):
                await self._join(key)
                if sequenced:
                    self.core.starting(key)
            if sequenced:
                try:
                    await self._started(key)
                except ProtocolError:
                    if not self.core.follows(key):
                        await self._leave(key)
                    raise
            if derive is not None and not self.core.derives(key):
                await self._derive(key, ref, derive)
            catching = sequenced and derive is None
            messages = self.core.add(conn, ref, key, since=since, catching=catching)
            if derive is not None:
                messages = [self.core.derived_snapshot(key)]
        self.connections.add(conn)
        return messages

    async def _started(self, key: str) -> None:
        """Wait until a sequenced group knows its starting number: one task reads it from
        the event log (after the group was joined, so nothing published later is missed),
        every subscriber waits for it."""
        if not self.core.is_starting(key):
            return
        load = self._starts.get(key)
        if load is None:
            load = self._starts[key] = _Load()
            self._spawn(self._start(key, load), f"start {key}")
        await load.wait("this channel is not available now (no event log answered)")
        if load.error is not None:
            raise load.error

    async def _start(self, key: str, load: _Load) -> None:
        try:
            history = await self._history(key, None)
        except Exception as exc:
            log.warning("cannot read the event log of %s: %s", key, exc)
            load.error = ProtocolError(
                ErrorCode.UNAVAILABLE, "this channel is not available now (its log failed)"
            )
        else:
            self._deliver(self.core.start(key, history.current))
        finally:
            self._starts.pop(key, None)  # a failed start is tried again by the next subscriber
            load.ready.set()

    async def _history(self, key: str, after: int | None) -> History:
        if self.history is None:
            raise RuntimeError("the Hub has no event log")
        return await self.history(key, after)

    def _deliver(self, effects: Effects) -> None:
        """Do what a call into the core asked: write its frames, fill gaps from the event
        log, load the views derived values now follow, leave what nobody follows."""
        for conn, frame in effects:
            conn.deliver(frame)  # type: ignore[attr-defined]
        for key in effects.fill:
            self._spawn(self._fill(key), f"fill {key}")
        for key, symbol in effects.follow:
            self._spawn(self._follow(key, symbol), f"follow {symbol}")
        for symbol in effects.release:
            self._loads.pop(symbol, None)
            self._spawn(self._leave(market_group(symbol)), f"leave {symbol}")
        for group in effects.leave:
            self._spawn(self._leave(group), f"leave {group}")

    async def _fill(self, key: str, delay: float = FILL_DELAY_S) -> None:
        """A sequenced group skipped a number: what is in flight gets `delay` to arrive,
        then the event log gives the rest (retried while the log is unreachable)."""
        attempt = 0
        while True:
            await asyncio.sleep(delay)
            if not self.core.follows(key):
                self.core.fill(key, [])
                return
            try:
                history = await self._history(key, self.core.in_seq(key))
                break
            except Exception as exc:
                attempt += 1
                delay = min(5.0, 0.2 * 2**attempt)
                log.warning("cannot read the event log of %s (%s); retrying", key, exc)
        self._deliver(self.core.fill(key, history.events))

    async def catch_up(self, conn: Subscriber, key: str, since: int | None) -> list[Message] | None:
        """Bring a subscriber of a sequenced group from `since` (None: from now) to the
        present, from memory or the event log; then it gets every message live. None
        when the log no longer holds what it missed, or `since` is not a number of this
        log: it needs a fresh snapshot (then `catch_up` from the snapshot's number)."""
        if since is None:
            return self.core.catch_up(conn, key, self.core.in_seq(key)) or []
        if since <= self.core.in_seq(key):
            messages = self.core.catch_up(conn, key, since)
            if messages is not None:
                return messages
        history = await self._history(key, since)
        if not history.complete:
            return None
        return self.core.catch_up(conn, key, since, history.events)

    async def _derive(self, key: str, ref: ChannelRef, derive: DeriveSource) -> None:
        """Build a derived channel's value and follow the symbols it names."""
        try:
            value = await derive()
        except Exception:
            log.exception("cannot build %s", ref.name)
            if not self.core.follows(key):
                await self._leave(key)
            raise ProtocolError(ErrorCode.UNAVAILABLE, f"{ref.name} is not available now") from None
        if self.core.derives(key):  # another subscriber built it meanwhile
            return
        for symbol in self.core.add_derived(key, ref, value):
            await self._follow(key, symbol, announce=False)

    async def _follow(self, key: str, symbol: str, *, announce: bool = True) -> None:
        """Load a symbol's view for a derived channel; a symbol without market data leaves
        that holding unpriced (logged), never the channel unavailable. Market data not
        available now (no pipeline answered in time: a crowd subscribing at once, a feed
        restarting) is asked for again in the background (`FOLLOW_RETRY_S`), so the
        holding is priced once it is, not left unpriced until the client subscribes
        again; an unknown symbol is not."""
        try:
            view = await self._view(symbol)
        except ProtocolError as exc:
            log.warning("%s: no market data for %s (%s)", key, symbol, exc.message)
            if exc.code == ErrorCode.UNAVAILABLE:
                self._spawn(self._follow_again(key, symbol), f"follow {symbol} again")
            return
        self.core.follow(key, view, announce=announce)

    async def _follow_again(self, key: str, symbol: str) -> None:
        for delay in FOLLOW_RETRY_S:
            await asyncio.sleep(delay)
            if not self.core.derives(key):  # nobody reads the value any more
                return
            try:
                view = await self._view(symbol)
            except ProtocolError as exc:
                if exc.code != ErrorCode.UNAVAILABLE:
                    return
                continue
            self.core.follow(key, view)  # (sent at the next flush)
            log.info("%s: following %s again", key, symbol)
            return
        log.warning("%s: gave up following %s; the holding stays unpriced", key, symbol)

    def published_covers(self, key: str, since: int) -> bool:
        """Whether this process's history of a published group holds every event past
        `since` (a resume it can serve)."""
        return self.core.published_covers(key, since)

    def published_seq(self, key: str) -> int:
        """The seq of the last event this process published on a group."""
        return self.core.published_seq(key)

    async def unsubscribe(
        self, conn: Subscriber, ref: ChannelRef, group: str | None = None
    ) -> None:
        key = ref.name if ref.public else (group or publish_group(ref.name))
        effects = self.core.remove(conn, ref, key)
        # Left before this returns: a new subscriber then joins afresh.
        for symbol in effects.release:
            self._loads.pop(symbol, None)
            await self._leave(market_group(symbol))
        for left in effects.leave:
            await self._leave(left)

    async def drop(
        self, conn: Subscriber, subscriptions: dict[str, tuple[ChannelRef, str | None]]
    ) -> None:
        """Remove every subscription of a closed connection."""
        for ref, group in subscriptions.values():
            await self.unsubscribe(conn, ref, group)
        self.core.drop(conn)
        self.connections.discard(conn)

    async def _join(self, group: str) -> None:
        try:
            if not self._channel:
                raise ConnectionError("the Hub has no broker channel yet")
            await self.layer.group_add(group, self._channel)
        except Exception as exc:
            log.warning("cannot follow %s: %s", group, exc)
            raise ProtocolError(
                ErrorCode.UNAVAILABLE, "this channel is not available now (the broker failed)"
            ) from None

    async def _leave(self, group: str) -> None:
        try:
            await self.layer.group_discard(group, self._channel)
        except Exception as exc:  # the broker forgets the membership when it comes back
            log.warning("could not leave %s: %s", group, exc)

    async def _view(self, symbol: str) -> SymbolView:
        """The view of a symbol, loaded. The first subscriber creates it (synchronously, so
        however subscriptions interleave there is one view per symbol) and one task of its
        own loads it; every subscriber waits for that load."""
        view, created = self.core.view(symbol)
        if created:
            self._loads[symbol] = load = _Load()
            self._spawn(self._load(view, load), f"load {symbol}")
        load = self._loads[symbol]
        await load.wait("market data is not available now (no pipeline answered)")
        if load.error is not None:
            if self.core.forget(view):
                self._loads.pop(symbol, None)
                await self._leave(market_group(symbol))
            raise load.error
        return view

    async def _load(self, view: SymbolView, load: _Load) -> None:
        symbol = view.symbol
        try:
            if not self._channel:
                raise ConnectionError("the Hub has no broker channel yet")
            if self.symbol_exists is not None and not await self.symbol_exists(symbol):
                load.error = ProtocolError(ErrorCode.UNKNOWN_SYMBOL, f"unknown symbol {symbol!r}")
            else:
                await self.layer.group_add(market_group(symbol), self._channel)
        except Exception as exc:
            log.warning("cannot follow %s: %s", symbol, exc)
            load.error = ProtocolError(
                ErrorCode.UNAVAILABLE, "market data is not available now (the broker failed)"
            )
        if load.error is None:
            await self._fetch(view, load)
        load.ready.set()

    async def _fetch(self, view: SymbolView, load: _Load) -> bool:
        """Fetch an exact snapshot into the view; ticks arriving meanwhile wait in it."""
        try:
            snapshot = await self.snapshot_source(view.symbol)
        except Exception as exc:
            log.warning("no snapshot of %s: %s", view.symbol, exc)
            load.error = ProtocolError(
                ErrorCode.UNAVAILABLE, "market data is not available now (no pipeline answered)"
            )
            return False
        self.core.load(view, snapshot)
        return True

    async def _reload(self, view: SymbolView) -> None:
        """The pipeline restarted or messages were lost: a fresh exact snapshot, and reset
        snapshots to the subscribers. Retried with backoff while the symbol is followed."""
        load = self._loads.setdefault(view.symbol, _Load())
        load.ready.clear()
        attempt = 0
        while not await self._fetch(view, load):
            load.ready.set()  # new subscribers get `unavailable` meanwhile
            if self.core.view_of(view.symbol) is not view:
                return  # nobody follows it any more
            attempt += 1
            await asyncio.sleep(min(5.0, 0.2 * 2**attempt))
        load.error = None
        for conn, frame in self.core.reset_frames(view):
            conn.deliver(frame)
        load.ready.set()

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
            except Exception as exc:  # the broker went away (it may come back empty)
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                log.warning("hub: receiving failed (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                await self._rejoin()
                continue
            try:
                self.receive(message)
            except Exception:
                log.exception("hub could not handle a %s message", message.get("type"))

    async def _audit_loop(self) -> None:
        while True:
            await asyncio.sleep(self.audit_s)
            try:
                await self.audit()
            except Exception as exc:
                log.warning("hub: cannot check the event log (%s)", exc)

    async def audit(self) -> None:
        """Read the log's number of every sequenced group followed here and fill those
        behind it: a message whose publish the broker lost (it failed, or restarted) and
        that no later message revealed arrives within `audit_s`."""
        groups = self.core.sequenced_groups()
        if not groups or self.currents is None:
            return
        for key, current in (await self.currents(groups)).items():
            behind = current - self.core.in_seq(key)
            if behind > 0 and self.core.needs_fill(key):
                log.warning("hub: %s is %d behind its event log: reading them", key, behind)
                self._spawn(self._fill(key, delay=0), f"fill {key}")

    async def _rejoin(self) -> bool:
        """After the broker failed: join every group this process follows again (a
        restarted broker has forgotten them), then catch up what was missed meanwhile:
        exact snapshots of the symbols (reset snapshots to their subscribers) and the
        event log of the sequenced groups. False if the broker is still unreachable."""
        groups = [market_group(symbol) for symbol in self.core.symbols()]
        groups += self.core.published_groups()
        try:
            for group in dict.fromkeys(groups):
                await self.layer.group_add(group, self._channel)
        except Exception as exc:
            log.warning("hub: cannot join the groups again yet (%s)", exc)
            return False
        log.warning("hub: the broker is back; %d groups joined again", len(groups))
        for view in list(self.views.values()):
            if not view.loading:
                view.loading = True  # ticks wait for the snapshot
                self._spawn(self._reload(view), f"reload {view.symbol}")
        for key in self.core.sequenced_groups():
            if self.core.needs_fill(key):
                self._spawn(self._fill(key, delay=0), f"fill {key}")
        return True

    def receive(self, message: Message) -> None:
        """One broker message."""
        kind = message.get("type")
        if kind == "market.tick":
            stale = self.core.on_tick(message)
            if stale is not None:
                self._spawn(self._reload(stale), f"reload {stale.symbol}")
        elif kind == "stream.publish":
            self._deliver(self.core.on_publish(message))
        if self.flush_s == 0:
            self.flush()

    # --- outgoing ---

    async def _heartbeat_loop(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_s)
            self.beat()

    def beat(self) -> None:
        """Send a heartbeat to every v1 connection and let each check whether it is slow."""
        frame = encode({"type": "heartbeat", "time": time.time_ns() // 1_000_000})
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

    def flush(self) -> None:
        """Send what the core says, and close the connections held back for too long."""
        outbox = self.core.flush()
        self.flushes += 1
        for conn in self.core.held_back():
            conn.check_slow()  # type: ignore[attr-defined]
        for conn, frame in outbox:
            conn.deliver(frame)  # type: ignore[attr-defined]

    def drained(self, conn: Subscriber) -> None:
        """A connection's queue emptied: if it fell behind, catch it up (conflated)."""
        for frame in self.core.drained(conn):
            conn.deliver(frame)

    def is_slow(self, conn: Subscriber) -> bool:
        return self.core.is_slow(conn)


_hubs: dict[asyncio.AbstractEventLoop, Hub] = {}
_starting: dict[asyncio.AbstractEventLoop, asyncio.Lock] = {}
_sources: dict[str, Any] = {}


def configure(
    *,
    snapshot: SnapshotSource,
    symbol_exists: SymbolCheck | None,
    history: HistorySource | None = None,
    currents: CurrentsSource | None = None,
) -> None:
    """Where Hubs get exact snapshots, check symbols and read the event log (the stream
    app wires the market's gateway and selectors and its own log in here at start-up)."""
    _sources.update(
        snapshot=snapshot, symbol_exists=symbol_exists, history=history, currents=currents
    )


async def get_hub() -> Hub:
    """The Hub of the running event loop, started on first use."""
    from channels.layers import get_channel_layer
    from django.conf import settings

    from tickstream.stream.registry import formats

    loop = asyncio.get_running_loop()
    hub = _hubs.get(loop)
    if hub is not None:
        return hub
    lock = _starting.setdefault(loop, asyncio.Lock())
    async with lock:
        hub = _hubs.get(loop)
        if hub is None:
            layer = get_channel_layer()
            if layer is None or "snapshot" not in _sources:
                raise RuntimeError("the Hub needs a channel layer and a snapshot source")
            hub = Hub(
                layer,
                _sources["snapshot"],
                flush_ms=settings.STREAM_FLUSH_MS,
                symbol_exists=_sources["symbol_exists"],
                formats=formats(),
                history=_sources.get("history"),
                currents=_sources.get("currents"),
            )
            hub.heartbeat_s = settings.STREAM_HEARTBEAT_S
            hub.audit_s = settings.STREAM_AUDIT_S
            await hub.start()
            _hubs[loop] = hub
    return hub


async def stop_hub() -> None:
    hub = _hubs.pop(asyncio.get_running_loop(), None)
    if hub is not None:
        await hub.stop()
