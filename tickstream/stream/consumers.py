"""Websocket protocol v1 at `/ws/v1/`: a thin adapter between client frames and the Hub."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections import deque
from typing import Any

from channels.db import database_sync_to_async
from channels.exceptions import StopConsumer
from channels.generic.websocket import AsyncWebsocketConsumer
from django.conf import settings
from django.db import DatabaseError

from tickstream.common.core.errors import CodedError
from tickstream.stream import events
from tickstream.stream.core.protocol import (
    ABUSE_LIMIT,
    ABUSE_WINDOW_S,
    CLOSE_ABUSE,
    CLOSE_SIGNED_OUT,
    CLOSE_SLOW,
    MAX_SUBSCRIPTIONS,
    MESSAGES_PER_SECOND,
    PROTOCOL_VERSION,
    ChannelRef,
    ErrorCode,
    ProtocolError,
    RateLimit,
    Request,
    check_frame_size,
    encode,
    error_frame,
    parse_channel,
    parse_request,
)
from tickstream.stream.frames import FrameWriter
from tickstream.stream.hub import STREAM_HIGH_WATER, Hub, get_hub
from tickstream.stream.registry import (
    AppKind,
    ChannelType,
    DerivedKind,
    MarketKind,
    PublishedKind,
    SequencedKind,
    channel_type,
    operation,
    operations,
    shapes,
)

log = logging.getLogger(__name__)
_NO_FRAMES: deque[bytes] = deque(maxlen=0)  # shared, always empty: most sockets never queue


class HubConsumer(AsyncWebsocketConsumer):
    """A websocket fed by the Hub: updates arrive through `deliver`, never the channel layer.

    Frames go straight to the socket while it keeps up (`stream/frames.py`); otherwise
    they wait in a bounded outbox drained by a sender task that lives only while there is
    something to drain. A connection whose outbox stays over the high-water mark is
    conflated by the Hub and closed after STREAM_SLOW_CLOSE_S.
    """

    wire = "v1"
    batch = True

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        """Read the socket in one loop: no channel-layer channel, and no task and wait per
        frame as Channels' `await_many_dispatch` has (memory and time per connection)."""
        self.scope = scope
        self.channel_layer = None
        self.base_send = send
        try:
            while True:
                await self.dispatch(await receive())
        except StopConsumer:
            pass
        finally:
            # However the loop ended (a disconnect, or an error of the server), nothing
            # of this connection stays in the Hub.
            await self._release()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale DB connections before every handler (a thread hop per
        # frame); these handlers reach the database only through database_sync_to_async.
        handler = getattr(self, message["type"].replace(".", "_"), None)
        if handler is None:
            raise ValueError(f"no handler for message type {message['type']}")
        await handler(message)

    async def connect(self) -> None:
        self.hub: Hub = await get_hub()
        self.subscriptions: dict[str, tuple[ChannelRef, str | None]] = {}
        self._outbox: deque[bytes] = _NO_FRAMES  # a deque of its own once frames wait
        self._sender: asyncio.Task[None] | None = None
        self._behind_since: float | None = None
        self._closed = False
        self._close_sent = False
        self._released = False
        await self.accept()
        self._writer = FrameWriter(self.base_send)
        self.hub.connections.add(self)

    async def websocket_disconnect(self, message: dict[str, Any]) -> None:
        """Channels' own handler also closes stale database connections on the way out: a
        hop to the one thread of sync code for every socket, so 10,000 sockets closing at
        once queued 10,000 hops, each keeping its connection alive until its turn (measured:
        the process kept 3 KB per connection more afterwards, and closing took seconds).
        These consumers join no layer group and reach the database only through
        database_sync_to_async, which closes stale connections itself."""
        await self.disconnect(message.get("code", 1000))
        raise StopConsumer()

    async def disconnect(self, code: int) -> None:
        await self._release()

    async def _release(self) -> None:
        """Leave the Hub and stop sending: once, whoever calls first."""
        if getattr(self, "_released", True):
            return
        self._released = True
        self._closed = True
        await self._stop_sender()
        await self.hub.drop(self, self.subscriptions)

    async def close(self, code: int | bool | None = None, reason: str | None = None) -> None:
        """Close the socket; any later call does nothing (a second `websocket.close` is an
        error of the ASGI protocol)."""
        if getattr(self, "_close_sent", False):
            return
        self._close_sent = True
        self._closed = True
        try:
            await super().close(code=code, reason=reason)
        except (RuntimeError, OSError):  # the peer went away first
            pass

    async def sign_out(self) -> None:
        """What signed this socket in was revoked (`revocation.py`): an `error` frame
        `signed_out`, then the close with CLOSE_SIGNED_OUT; nothing more is sent or read."""
        if self._closed:
            return
        message = "you were signed out (logout, password change or a new API token)"
        self.deliver(error_frame(ErrorCode.SIGNED_OUT, message, None))
        await self.close_after_sending(CLOSE_SIGNED_OUT)

    async def websocket_receive(self, message: dict[str, Any]) -> None:
        if getattr(self, "_closed", False):
            return  # closing: what the client still sends is not read
        await super().websocket_receive(message)

    # --- limits shared by every endpoint that reads client frames ---

    def start_limits(self) -> None:
        self._limit = RateLimit()
        self._errors: list[float] = []  # times of recent errors (at most ABUSE_LIMIT)

    def admit(self, raw: str | bytes) -> None:
        """Raise the ProtocolError of a frame over the rate or the size limit."""
        if not self._limit.allow():
            raise ProtocolError(
                ErrorCode.RATE_LIMITED,
                f"too many messages: at most {MESSAGES_PER_SECOND:g} a second",
            )
        check_frame_size(raw)

    async def refuse(self, exc: ProtocolError) -> None:
        """Answer a bad frame with an error; too many errors close the connection (4029)."""
        self.deliver(error_frame(exc.code, exc.message, exc.request_id))
        now = time.monotonic()
        self._errors.append(now)
        self._errors = [t for t in self._errors if now - t <= ABUSE_WINDOW_S]
        if len(self._errors) >= ABUSE_LIMIT:
            await self.close_after_sending(CLOSE_ABUSE)

    # --- the Hub's side ---

    def deliver(self, frame: bytes) -> None:
        if self._closed:
            return
        if self._sender is None:  # nothing queued: write at once if the socket keeps up
            written = self._writer.write_now(frame)
            if written is None:
                return  # the peer is gone; `disconnect` follows
            if written:
                return
        if self._outbox is _NO_FRAMES:
            self._outbox = deque()
        self._outbox.append(frame)
        if self._sender is None:
            self._sender = asyncio.get_running_loop().create_task(self._drain())
        self.check_slow()

    def backlog(self) -> int:
        return len(self._outbox)

    def check_slow(self) -> None:
        if len(self._outbox) <= STREAM_HIGH_WATER:
            return
        now = time.monotonic()
        if self._behind_since is None:
            self._behind_since = now
        elif now - self._behind_since > settings.STREAM_SLOW_CLOSE_S and not self._closed:
            self._closed = True
            self._outbox.clear()
            asyncio.get_running_loop().create_task(self.close(code=CLOSE_SLOW))

    async def _write(self, frame: bytes) -> None:
        await self._writer.send(frame)

    async def _drain(self) -> None:
        try:
            while self._outbox:
                await self._write(self._outbox.popleft())
        finally:
            self._sender = None
            if not self._outbox:
                self._outbox = _NO_FRAMES
        self._behind_since = None
        self.hub.drained(self)

    async def _stop_sender(self) -> None:
        sender = getattr(self, "_sender", None)
        if sender is not None:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await sender

    async def close_after_sending(self, code: int) -> None:
        """Send what is queued (the errors that explain the close), then close."""
        if self._close_sent:
            return
        self._closed = True
        await self._stop_sender()
        try:
            while self._outbox:
                await self._write(self._outbox.popleft())
        except (RuntimeError, OSError):
            self._outbox = _NO_FRAMES
        await self.close(code=code)

    def send_now(self, messages: list[dict[str, Any]]) -> None:
        if not messages:
            return
        if self.batch:
            self.deliver(b"[" + b",".join(encode(m) for m in messages) + b"]")
        else:
            for m in messages:
                self.deliver(encode(m))


class StreamConsumer(HubConsumer):
    """Protocol v1 (docs/protocol.md)."""

    async def connect(self) -> None:
        self.start_limits()
        await super().connect()
        self.deliver(
            encode(
                {
                    "type": "welcome",
                    "version": PROTOCOL_VERSION,
                    "user": self._user_id(),
                    "flush_ms": settings.STREAM_FLUSH_MS,
                }
            )
        )

    def _user_id(self) -> int | None:
        user = self.scope.get("user")
        return user.pk if user is not None and user.is_authenticated else None

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        raw = text_data if text_data is not None else (bytes_data or b"")
        try:
            self.admit(raw)
            request = parse_request(raw, operations())
            if request.op == "ping":
                self.send_now(
                    [{"type": "pong", "id": request.id, "time": time.time_ns() // 1_000_000}]
                )
            elif request.op == "subscribe":
                await self._subscribe(request)
            elif request.op == "unsubscribe":
                await self._unsubscribe(request)
            else:
                await self._operate(request)
        except ProtocolError as exc:
            await self.refuse(exc)
        except Exception:  # a fault of ours: answered, logged, and the socket goes on
            log.exception("a websocket request failed")
            request_id = _request_id(raw)
            message = "the server failed on this request"
            await self.refuse(ProtocolError(ErrorCode.INTERNAL, message, request_id))

    async def _operate(self, request: Request) -> None:
        """An op an app registered: its answer, or its refusal, carries the request's id."""
        handler = operation(request.op)
        if handler is None:  # pragma: no cover - parse_request knows only registered ops
            raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {request.op!r}", request.id)
        try:
            data = await handler(self.scope.get("user"), request.params)
        except ProtocolError:
            raise  # a client mistake: answered and counted by `receive`
        except CodedError as exc:  # the app's refusal, with its code, words and field
            self.send_now([{"type": "error", "id": request.id, **exc.body()}])
            return
        except DatabaseError as exc:  # nothing was changed: the client may try again
            log.warning("%s failed on the database: %s", request.op, exc)
            message = "the database is not available now; nothing was changed"
            frame = {"type": "error", "id": request.id, "code": ErrorCode.UNAVAILABLE}
            self.send_now([frame | {"message": message}])
            return
        self.send_now([{"type": "result", "id": request.id, "op": request.op, "data": data}])

    async def _authorise(self, kind: AppKind, ref: ChannelRef, request: Request) -> str:
        """The broker group of an app's channel this user may read; refuse others."""
        user = self.scope.get("user")
        signed_in = user is not None and user.is_authenticated
        if kind.needs_user and not signed_in:
            raise ProtocolError(
                ErrorCode.FORBIDDEN, f"{ref.name!r} needs a signed-in user", request.id
            )
        if kind.owner is not None and not await kind.owner(user, ref):
            raise ProtocolError(ErrorCode.FORBIDDEN, f"{ref.name!r} is not yours", request.id)
        return kind.group(ref, user)

    async def _subscribe(self, request: Request) -> None:
        known = shapes()
        refs = [parse_channel(n, _intervals(), request.id, known) for n in request.channels]
        fresh = [r for r in refs if r.name not in self.subscriptions]
        if len(self.subscriptions) + len(fresh) > MAX_SUBSCRIPTIONS:
            raise ProtocolError(
                ErrorCode.TOO_MANY_SUBSCRIPTIONS,
                f"at most {MAX_SUBSCRIPTIONS} subscriptions a connection",
                request.id,
            )
        kinds = {r.name: _kind(r) for r in refs}
        groups: dict[str, str | None] = {}
        for ref in refs:  # every channel allowed before any is added
            kind = kinds[ref.name]
            groups[ref.name] = (
                None
                if isinstance(kind, MarketKind)
                else (await self._authorise(kind, ref, request))
            )
        messages: list[dict[str, Any]] = []
        done: list[str] = []
        try:
            for ref in refs:
                if ref.name in self.subscriptions:
                    continue
                since, group = request.since.get(ref.name), groups[ref.name]
                messages += await self._serve(kinds[ref.name], ref, group, since, request.epoch)
                self.subscriptions[ref.name] = (ref, group)
                done.append(ref.name)
        except ProtocolError as exc:
            for name in done:  # all or nothing
                ref, group = self.subscriptions.pop(name)
                await self.hub.unsubscribe(self, ref, group)
            exc.request_id = request.id
            raise
        self.send_now(
            [
                {"type": "subscribed", "id": request.id, "channels": list(request.channels)},
                *messages,
            ]
        )

    async def _serve(
        self,
        kind: ChannelType,
        ref: ChannelRef,
        group: str | None,
        since: int | None,
        epoch: int | None,
    ) -> list[dict[str, Any]]:
        """Subscribe to one channel as its kind is served; the messages that bring this
        connection up to date with it."""
        hub = self.hub
        if isinstance(kind, MarketKind) or group is None:
            return await hub.subscribe(self, ref, since=since, epoch=epoch)
        if isinstance(kind, DerivedKind):
            derive, user = kind.derive, self.scope.get("user")
            return await hub.subscribe(
                self, ref, group=group, since=since, derive=lambda: derive(user, ref),
                sequenced=True,
            )  # fmt: skip
        if isinstance(kind, SequencedKind):
            missed = await hub.subscribe(self, ref, group=group, since=since, sequenced=True)
            return missed + await self._catch_up(kind, ref, group, since)
        missed = await hub.subscribe(self, ref, group=group, since=since)
        # A conflated value is whole: a resume gets it afresh (its numbers are this
        # process's own, and may mean nothing here); so does one this process's history
        # cannot bring up to date.
        if since is None or kind.conflate or not hub.published_covers(group, since):
            return await self._published_snapshot(kind, ref, group, since) or missed
        return missed

    async def _catch_up(
        self, kind: SequencedKind, ref: ChannelRef, group: str, since: int | None
    ) -> list[dict[str, Any]]:
        """A sequenced channel: what was missed since `since`, from any process's history
        or the event log; else (a new subscriber, or a gap the log no longer holds) a
        snapshot read with its number, and what came after it."""
        try:
            return await self._catch_up_from(kind, ref, group, since)
        except DatabaseError as exc:  # the log or the snapshot could not be read now
            log.warning("cannot serve %s: %s", ref.name, exc)
            raise ProtocolError(
                ErrorCode.UNAVAILABLE, f"{ref.name} is not available now (the database failed)"
            ) from None

    async def _catch_up_from(
        self, kind: SequencedKind, ref: ChannelRef, group: str, since: int | None
    ) -> list[dict[str, Any]]:
        resumed = None if since is None else await self.hub.catch_up(self, group, since)
        if resumed is not None:
            return resumed
        if kind.snapshot is None:
            return await self.hub.catch_up(self, group, None) or []
        snapshot, user = kind.snapshot, self.scope.get("user")
        seq, data = await database_sync_to_async(events.snapshot)(
            group, lambda: snapshot(user, ref)
        )
        resumed = await self.hub.catch_up(self, group, seq)
        if resumed is None:
            raise ProtocolError(ErrorCode.UNAVAILABLE, f"{ref.name} is not available now")
        first = {"type": "snapshot", "channel": ref.name, "epoch": 0, "seq": seq}
        return [first | {"reset": since is not None, "data": data}, *resumed]

    async def _published_snapshot(
        self, kind: PublishedKind, ref: ChannelRef, group: str, since: int | None
    ) -> list[dict[str, Any]]:
        """The value of a published channel (not sequenced) whose kind has one: for a new
        subscriber, or a resuming one this process cannot bring up to date (`reset`)."""
        if kind.snapshot is None:
            return []
        seq = self.hub.published_seq(group)
        data = await database_sync_to_async(kind.snapshot)(self.scope.get("user"), ref)
        first = {"type": "snapshot", "channel": ref.name, "epoch": 0, "seq": seq}
        return [first | {"reset": since is not None, "data": data}]

    async def _unsubscribe(self, request: Request) -> None:
        """All or nothing, like subscribe: one channel not subscribed refuses the request."""
        missing = [n for n in request.channels if n not in self.subscriptions]
        if missing:
            raise ProtocolError(
                ErrorCode.NOT_SUBSCRIBED, f"not subscribed to {', '.join(missing)}", request.id
            )
        for name in request.channels:
            await self.hub.unsubscribe(self, *self.subscriptions.pop(name))
        self.send_now(
            [{"type": "unsubscribed", "id": request.id, "channels": list(request.channels)}]
        )


def _kind(ref: ChannelRef) -> ChannelType:
    kind = channel_type(ref.kind)
    if kind is None:  # pragma: no cover - parse_channel knows only registered kinds
        raise ProtocolError(ErrorCode.UNKNOWN_CHANNEL, f"unknown channel {ref.name!r}")
    return kind


def _intervals() -> frozenset[str]:
    return frozenset(settings.MARKET_INTERVALS)


def _request_id(raw: str | bytes) -> Any:
    """The `id` of a request frame, if it has one (for an answer to a failed request)."""
    try:
        frame = json.loads(raw)
    except ValueError:
        return None
    return frame.get("id") if isinstance(frame, dict) else None
