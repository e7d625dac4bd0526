"""The channel registry: every channel kind a client can subscribe to, and how the Hub
serves it. An app adds a channel by registering it in its `AppConfig.ready()`, without
editing `stream/` (docs/channels.md):

    from tickstream.stream.registry import PublishedKind, register
    from tickstream.stream.core.protocol import ChannelShape

    register(
        PublishedKind(
            ChannelShape("watch", ("id",)),
            needs_user=True,
            owner=watch_owned_by,     # async (user, ref) -> bool
            snapshot=watch_snapshot,  # (user, ref) -> data, the first message
            conflate=True,            # only the latest value per flush, like `ticker`
        )
    )

A kind is one of four variants, each taking only the options that mean something for it:
`MarketKind` (served from the Hub's views of the pipeline), `PublishedKind` (fed by
`publish(channel, data, user=...)`, numbered by each process, optionally conflated),
`SequencedKind` (fed by `publish`, numbered by the event log: a client resumes on any
process) and `DerivedKind` (a value the Hub keeps at market prices). The consumer serves
each variant by one method of its own (`StreamConsumer._serve`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from tickstream.common.core.errors import CodedError
from tickstream.stream.core.derived import Derived
from tickstream.stream.core.protocol import ChannelRef, ChannelShape
from tickstream.stream.core.views import Encoder
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


GroupOf = Callable[[ChannelRef, Any], str]


@dataclass(frozen=True, slots=True)
class MarketKind:
    """Market data (`ticker`, `trades`, `candles`, `analysis`): public, served from the
    Hub's views of the pipeline; only the pipeline publishes it."""

    shape: ChannelShape

    @property
    def kind(self) -> str:
        return self.shape.kind


@dataclass(frozen=True, slots=True)
class _AppKind:
    """What every kind an app publishes has: who may read it, and its broker group."""

    shape: ChannelShape
    needs_user: bool = False  # refused to anonymous connections
    owner: OwnerCheck | None = None  # whether this signed-in user may read this channel
    group: GroupOf = channel_group  # the broker group its messages are published on

    @property
    def kind(self) -> str:
        return self.shape.kind


@dataclass(frozen=True, slots=True)
class PublishedKind(_AppKind):
    """Fed by `publish`, numbered by each process: a resume this process cannot serve
    from its history starts again from `snapshot` (if any)."""

    snapshot: Snapshot | None = None  # the data a new subscriber starts from
    conflate: bool = False  # send the latest value per flush, not every one


@dataclass(frozen=True, slots=True)
class SequencedKind(_AppKind):
    """Fed by `publish`, each message numbered by the event log (stream/events.py) in the
    transaction of its change, the same on every process, so a client resumes on any of
    them; a new subscriber starts from `snapshot`, read with its number."""

    snapshot: Snapshot | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class DerivedKind(_AppKind):
    """A value the Hub derives from market prices (a portfolio's valuation): `derive`
    builds it once per process for its first subscriber, the Hub marks it with the quotes
    of the symbols it names at every flush in which they moved, and `publish` sends it
    changes (sequenced by the event log), never whole values. Every update is whole and
    conflated; every subscriber, resuming or not, starts from its current value."""

    derive: Derive


ChannelType = MarketKind | PublishedKind | SequencedKind | DerivedKind
AppKind = PublishedKind | SequencedKind | DerivedKind


def is_sequenced(kind: ChannelType | None) -> bool:
    """Whether a kind's messages are numbered by the event log (and so written to it)."""
    return isinstance(kind, SequencedKind | DerivedKind)


def conflates(kind: ChannelType | None) -> bool:
    """Whether only a kind's latest value per flush is sent."""
    return isinstance(kind, DerivedKind) or (isinstance(kind, PublishedKind) and kind.conflate)


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
