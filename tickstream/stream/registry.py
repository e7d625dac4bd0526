"""The channel registry: every channel kind a client can subscribe to, and how the Hub
serves it. An app adds a channel by registering it in its `AppConfig.ready()`, without
editing `stream/` (docs/channels.md):

    from tickstream.stream.registry import ChannelType, register
    from tickstream.stream.core.protocol import ChannelShape

    register(
        ChannelType(
            ChannelShape("portfolio", ("id",)),
            needs_user=True,
            owner=portfolio_owned_by,     # async (user, ref) -> bool
            snapshot=portfolio_snapshot,  # (user, ref) -> data, the first message
            conflate=True,                # only the latest value per flush, like `ticker`
        )
    )

Market kinds (`ticker`, `trades`, `candles`, `analysis`) are served from the Hub's views of
the pipeline; every other kind is fed by `publish(channel, data, user=...)`. A kind with
`derive` is a value the Hub derives from market prices (a portfolio's valuation): `derive`
builds it once per process for its first subscriber, the Hub marks it with the quotes of
the symbols it names at every flush in which they moved, and `publish` sends it changes
(its `apply`), never whole values.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tickstream.common.core.errors import CodedError
from tickstream.stream.core.fanout import Derived, Encoder
from tickstream.stream.core.protocol import ChannelRef, ChannelShape
from tickstream.stream.groups import publish_group

OwnerCheck = Callable[[Any, ChannelRef], Awaitable[bool]]
# Runs in a thread, in one consistent read with the channel's `seq` (stream/events.py).
Snapshot = Callable[[Any, ChannelRef], Any]
Derive = Callable[[Any, ChannelRef], Awaitable[Derived]]
# An app's websocket operation: (user, the request frame) -> the `result` frame's data.
Operation = Callable[[Any, dict[str, Any]], Awaitable[Any]]


def channel_group(ref: ChannelRef, user: Any) -> str:
    """The broker group of a published channel: one per channel name."""
    return publish_group(ref.name)


def user_channel_group(ref: ChannelRef, user: Any) -> str:
    """The broker group of a per-user channel without an argument (`orders`): one per user."""
    if user is None or not getattr(user, "pk", None):
        raise ValueError(f"{ref.name!r} needs the user it is for")
    return publish_group(f"{ref.name}:{user.pk}")


@dataclass(frozen=True, slots=True)
class ChannelType:
    """One kind of channel: its name's shape, who may read it, and how it is served."""

    shape: ChannelShape
    needs_user: bool = False  # refused to anonymous connections
    owner: OwnerCheck | None = None  # whether this signed-in user may read this channel
    group: Callable[[ChannelRef, Any], str] = channel_group  # published kinds: broker group
    snapshot: Snapshot | None = None  # published kinds: the data a new subscriber starts from
    conflate: bool = False  # published kinds: send the latest value per flush, not every one
    derive: Derive | None = None  # derived kinds: the value the Hub keeps at market prices
    # Published kinds: messages numbered by the event log (stream/events.py), the same on
    # every process, so a client resumes on any of them.
    sequenced: bool = False

    @property
    def kind(self) -> str:
        return self.shape.kind


class RegistryError(ValueError):
    pass


_types: dict[str, ChannelType] = {}
_formats: dict[str, Encoder] = {}


def register(channel_type: ChannelType, *, replace: bool = False) -> None:
    """Make a channel kind subscribable. Registering a kind twice is an error unless
    `replace` (an app taking over a placeholder)."""
    if channel_type.kind in _types and not replace:
        raise RegistryError(f"channel kind {channel_type.kind!r} is registered already")
    _types[channel_type.kind] = channel_type


def channel_type(kind: str) -> ChannelType | None:
    return _types.get(kind)


def shapes() -> dict[str, ChannelShape]:
    """The shapes of every registered kind, for parsing channel names."""
    return {kind: t.shape for kind, t in _types.items()}


def register_format(wire: str, encoder: Encoder) -> None:
    """A message shape other than protocol v1 (the tutorials' endpoints), encoded once per
    flush for all its connections."""
    _formats[wire] = encoder


def formats() -> dict[str, Encoder]:
    return _formats


class OperationError(CodedError):
    """An app's refusal of an operation, answered with an `error` frame carrying `code`
    (`insufficient_funds`). Unlike a protocol error it does not count as abuse; any
    `CodedError` an operation raises is answered the same way."""


_operations: dict[str, Operation] = {}


def register_operation(op: str, handler: Operation, *, replace: bool = False) -> None:
    """A websocket op an app serves (`order.place`): the consumer hands it the frame of a
    signed-in or anonymous user and answers `{"type": "result", "id", "op", "data"}`."""
    if op in ("subscribe", "unsubscribe", "ping"):
        raise RegistryError(f"{op!r} is the protocol's own")
    if op in _operations and not replace:
        raise RegistryError(f"operation {op!r} is registered already")
    _operations[op] = handler


def operation(op: str) -> Operation | None:
    return _operations.get(op)


def operations() -> frozenset[str]:
    return frozenset(_operations)
