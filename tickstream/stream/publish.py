"""`publish(channel, data)`: the one way an app sends a real-time update to subscribers.

Call it from any Django code, sync or async (views, signals, services, management
commands). Inside a transaction the message goes out when the transaction commits, and not
at all if it rolls back, so subscribers never see data that was not saved::

    from tickstream.stream.publish import publish

    @transaction.atomic
    def order_fill(*, order, price):
        ...
        publish("orders", {"id": order.id, "status": "filled", "price": str(price)},
                user=order.account.user)

Public kinds (`ticker`, `trades`, `candles`, `analysis`) belong to the market pipeline.
Per-user kinds need the `user` whose subscribers receive it (`orders`, `alerts`) or name
their owner in the channel (`portfolio:<id>`). Any other name is a custom channel that
websocket clients cannot subscribe to yet. Data must be JSON-serialisable; send decimals
as strings.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterator
from contextvars import ContextVar
from typing import Any, TypeVar

from asgiref.sync import async_to_sync, sync_to_async
from channels.layers import get_channel_layer
from django.db import transaction

from tickstream.stream import events
from tickstream.stream.core.protocol import ProtocolError, parse_channel
from tickstream.stream.groups import publish_group
from tickstream.stream.registry import MarketKind, channel_type, conflates, is_sequenced

log = logging.getLogger(__name__)
T = TypeVar("T")


class PublishError(ValueError):
    """A channel that cannot be published to."""


def _group(channel: str, user: Any) -> str:
    """The broker group the channel's subscribers listen on, from the channel registry."""
    kind = channel_type(channel.split(":", 1)[0])
    if kind is None:
        return publish_group(channel)  # a custom channel nobody can subscribe to yet
    if isinstance(kind, MarketKind):
        raise PublishError(f"{channel!r} is market data: only the pipeline publishes it")
    try:
        ref = parse_channel(channel, frozenset(), shapes={kind.kind: kind.shape})
        return kind.group(ref, user)
    except (ProtocolError, ValueError) as exc:
        raise PublishError(f"cannot publish to {channel!r}: {exc}") from None


_sending: set[asyncio.Task[None]] = set()
# (group, message) pairs that sync code leaves to its caller on the event loop to send.
Sends = list[tuple[str, dict[str, Any]]]
_deferred: ContextVar[Sends | None] = ContextVar("publish_deferred", default=None)
failures = 0  # publishes the broker refused, from async code (each is logged)


def publish(channel: str, data: Any, *, user: Any = None) -> None:
    """Deliver `data` to the subscribers of `channel` once the current transaction commits.

    A sequenced kind's message (`orders`, `alerts`, `portfolio:<id>`) is numbered in the
    event log in the same transaction, so every web process sends it with the same `seq`.
    From async code (which holds no transaction: Django's are sync-only) it sends at once
    in a task; a failure is logged and counted, never lost silently. Await `apublish` to
    get the failure as an exception instead.
    """
    message = _message(channel, data, user)
    group = message["group"]
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        task = loop.create_task(_send(message))
        _sending.add(task)  # held until done: a bare task may be collected mid-send
        task.add_done_callback(_sent)
        return
    if _sequenced(channel):
        message["seq"] = events.record(message)  # in this transaction: numbered iff committed
    box = _deferred.get()
    if box is not None:
        transaction.on_commit(lambda: box.append((group, message)))
        return
    layer = get_channel_layer()
    if layer is None:
        return
    transaction.on_commit(lambda: _send_committed(layer, group, message))


def _send_committed(layer: Any, group: str, message: dict[str, Any]) -> None:
    """Send after the commit. A broker failure is logged and counted, never raised into
    the request whose change was committed (a sequenced message is in the event log:
    every Hub reads it from there when the broker is back)."""
    global failures
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:
        failures += 1
        log.error("publish failed (%d so far): %s: %s", failures, type(exc).__name__, exc)


def _sequenced(channel: str) -> bool:
    return is_sequenced(channel_type(channel.split(":", 1)[0]))


async def _send(message: dict[str, Any]) -> None:
    """Publish from async code: numbered in the event log first if its kind is sequenced."""
    if _sequenced(message["channel"]):
        message["seq"] = await sync_to_async(events.record)(message)
    layer = get_channel_layer()
    if layer is not None:
        await layer.group_send(message["group"], message)


@contextlib.contextmanager
def deferred() -> Iterator[Sends]:
    """Collect what `publish` and `notices.notify` send on commit instead of sending it,
    for sync code its caller awaits from the event loop (a request, a websocket operation,
    a writer with its own thread): the caller sends them with `send_published` once the
    sync code returns. Sending from the thread would wait for the loop once per message
    (`async_to_sync`), the thread idle meanwhile."""
    box: Sends = []
    token = _deferred.set(box)
    try:
        yield box
    finally:
        _deferred.reset(token)


def deferring() -> Sends | None:
    """The box of the `deferred` block this code runs in, if any."""
    return _deferred.get()


async def send_published(messages: Sends) -> None:
    """Send messages `deferred` collected, in order; a refusal is logged and counted."""
    global failures
    layer = get_channel_layer()
    for group, message in messages if layer is not None else []:
        try:
            await layer.group_send(group, message)
        except Exception as exc:
            failures += 1
            log.error("publish failed (%d so far): %s: %s", failures, type(exc).__name__, exc)


async def call_then_send(fn: Callable[..., T], *args: Any) -> T:
    """Run sync `fn` in Django's sync thread (`sync_to_async`), then send from the loop
    what it published or notified on commit: one hop into the thread, none back per
    message."""

    def run() -> tuple[T | None, Sends, BaseException | None]:
        with deferred() as box:
            try:
                return fn(*args), box, None
            except Exception as exc:  # raised below, once what committed is sent
                return None, box, exc

    result, box, error = await sync_to_async(run)()
    await send_published(box)
    if error is not None:
        raise error
    return result  # type: ignore[return-value]


async def apublish(channel: str, data: Any, *, user: Any = None) -> None:
    """`publish` for async code that wants to know: raises if the broker refuses."""
    await _send(_message(channel, data, user))


def _message(channel: str, data: Any, user: Any) -> dict[str, Any]:
    kind = channel_type(channel.split(":", 1)[0])
    return {
        "type": "stream.publish",
        "channel": channel,
        "group": _group(channel, user),
        "data": data,
        "conflate": conflates(kind),
    }


def _sent(task: asyncio.Task[None]) -> None:
    global failures
    _sending.discard(task)
    if task.cancelled():
        return
    exc = task.exception()
    if exc is not None:
        failures += 1
        log.error("publish failed (%d so far): %s: %s", failures, type(exc).__name__, exc)
