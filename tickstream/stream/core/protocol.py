"""Websocket protocol v1: channel names, client frames, error codes (pure).

See docs/protocol.md. Nothing here imports Django or asyncio.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import orjson

from tickstream.common.core.edge import ControlCharacter, refuse_control
from tickstream.common.core.errors import CodedError

PROTOCOL_VERSION = 1

MAX_FRAME_BYTES = 16_384
MAX_SUBSCRIPTIONS = 200
MESSAGES_PER_SECOND = 20.0
MESSAGE_BURST = 40
ABUSE_LIMIT = 20  # errors within ABUSE_WINDOW_S close the connection
ABUSE_WINDOW_S = 10.0

CLOSE_ABUSE = 4029  # too many bad or too many messages
CLOSE_SLOW = 4008  # the client did not read its updates for too long
CLOSE_SIGNED_OUT = 4401  # what signed the socket in was revoked (logout, password, token)


class ErrorCode(StrEnum):
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    UNKNOWN_OP = "unknown_op"
    UNKNOWN_CHANNEL = "unknown_channel"
    UNKNOWN_SYMBOL = "unknown_symbol"
    BAD_INTERVAL = "bad_interval"
    FORBIDDEN = "forbidden"
    TOO_MANY_SUBSCRIPTIONS = "too_many_subscriptions"
    FRAME_TOO_LARGE = "frame_too_large"
    RATE_LIMITED = "rate_limited"
    NOT_SUBSCRIBED = "not_subscribed"
    UNAVAILABLE = "unavailable"
    BAD_TEXT = "bad_text"  # a string with a control character
    INTERNAL = "internal_error"  # the server failed on the request; the socket stays open
    SIGNED_OUT = "signed_out"  # then the close with CLOSE_SIGNED_OUT


class ProtocolError(CodedError):
    """A client mistake answered with an `error` frame (and counted towards abuse)."""

    def __init__(self, code: ErrorCode | str, message: str, request_id: Any = None) -> None:
        super().__init__(str(code), message)
        self.code = code
        self.request_id = request_id


class ChannelKind(StrEnum):
    """The market channels of protocol v1; other kinds are registered by apps."""

    TICKER = "ticker"
    TRADES = "trades"
    CANDLES = "candles"
    ANALYSIS = "analysis"


@dataclass(frozen=True, slots=True)
class ChannelShape:
    """How the names of a channel kind are written: `orders`, `ticker:<SYMBOL>`,
    `candles:<SYMBOL>:<interval>`, `portfolio:<id>`: the arguments after the kind, each
    `symbol`, `interval` or `id`."""

    kind: str
    args: tuple[str, ...] = ()
    market: bool = False  # a symbol's market data (public), else a published channel

    def usage(self) -> str:
        return ":".join([self.kind, *(f"<{a.upper() if a == 'symbol' else a}>" for a in self.args)])


MARKET_SHAPES = (
    ChannelShape(ChannelKind.TICKER, ("symbol",), market=True),
    ChannelShape(ChannelKind.TRADES, ("symbol",), market=True),
    ChannelShape(ChannelKind.CANDLES, ("symbol", "interval"), market=True),
    ChannelShape(ChannelKind.ANALYSIS, ("symbol",), market=True),
)
_SYMBOL = re.compile(r"^[A-Z0-9][A-Z0-9.\-_]{0,31}$")
_ID = re.compile(r"^[0-9]{1,18}$")


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A parsed channel name: `ticker:AAPL`, `candles:BTC-USD:1m`, `orders`, `portfolio:7`."""

    name: str
    kind: str
    symbol: str | None = None
    interval: str | None = None
    key: str | None = None  # the id of an `<id>` argument
    public: bool = True  # market data anyone may read

    @classmethod
    def market(cls, kind: ChannelKind, symbol: str, interval: str | None = None) -> ChannelRef:
        name = f"{kind}:{symbol}" + (f":{interval}" if interval else "")
        return cls(name, kind, symbol, interval)


def parse_channel(
    name: object,
    intervals: frozenset[str],
    request_id: Any = None,
    shapes: Mapping[str, ChannelShape] | None = None,
) -> ChannelRef:
    """Parse and check a channel name against the known shapes (the market's by default;
    symbol existence and ownership are checked by the caller)."""
    known = shapes if shapes is not None else {s.kind: s for s in MARKET_SHAPES}
    if not isinstance(name, str) or not name or len(name) > 64:
        raise ProtocolError(ErrorCode.UNKNOWN_CHANNEL, f"bad channel name {name!r}", request_id)
    kind, *parts = name.split(":")
    shape = known.get(kind)
    if shape is None:
        listed = ", ".join(s.usage() for s in known.values())
        raise ProtocolError(
            ErrorCode.UNKNOWN_CHANNEL, f"unknown channel {name!r}: use {listed}", request_id
        )
    if len(parts) != len(shape.args):
        raise ProtocolError(ErrorCode.UNKNOWN_CHANNEL, f"{name!r}: use {shape.usage()}", request_id)
    values: dict[str, str] = {}
    for arg, part in zip(shape.args, parts, strict=True):
        if arg == "symbol" and not _SYMBOL.match(part):
            raise ProtocolError(
                ErrorCode.UNKNOWN_CHANNEL, f"{name!r}: use {shape.usage()}", request_id
            )
        if arg == "id" and not _ID.match(part):
            raise ProtocolError(
                ErrorCode.UNKNOWN_CHANNEL, f"{name!r}: use {shape.usage()}", request_id
            )
        if arg == "interval" and part not in intervals:
            raise ProtocolError(
                ErrorCode.BAD_INTERVAL,
                f"interval {part!r} is not kept; use one of {', '.join(sorted(intervals))}",
                request_id,
            )
        values[arg] = part
    return ChannelRef(
        name,
        kind,
        symbol=values.get("symbol"),
        interval=values.get("interval"),
        key=values.get("id"),
        public=shape.market,
    )


@dataclass(frozen=True, slots=True)
class Request:
    op: str
    id: Any
    channels: tuple[str, ...] = ()
    since: dict[str, int] = field(default_factory=dict)
    epoch: int | None = None
    params: dict[str, Any] = field(default_factory=dict)  # an app's operation: the frame


def check_frame_size(raw: str | bytes) -> None:
    """Refuse a frame over MAX_FRAME_BYTES, counted in bytes (UTF-8 for text)."""
    size = len(raw)
    if isinstance(raw, str) and size * 4 > MAX_FRAME_BYTES:  # cheap when surely small
        size = len(raw.encode("utf-8", "surrogatepass"))
    if size > MAX_FRAME_BYTES:
        raise ProtocolError(
            ErrorCode.FRAME_TOO_LARGE,
            f"frames are limited to {MAX_FRAME_BYTES} bytes (this one has {size})",
        )


def parse_request(raw: str | bytes, operations: frozenset[str] = frozenset()) -> Request:
    """Parse a client frame; raise ProtocolError with the right code. `operations` are the
    ops apps registered (`order.place`): their frame is handed to the app whole."""
    check_frame_size(raw)
    try:
        data = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ProtocolError(ErrorCode.BAD_JSON, "the frame is not valid JSON") from None
    if not isinstance(data, dict):
        raise ProtocolError(ErrorCode.BAD_FRAME, "a frame must be a JSON object")
    request_id = data.get("id")
    try:
        refuse_control(data)
    except ControlCharacter as exc:
        raise ProtocolError(ErrorCode.BAD_TEXT, str(exc), request_id) from None
    op = data.get("op")
    if op == "ping":
        return Request("ping", request_id)
    if isinstance(op, str) and op in operations:
        return Request(op, request_id, params=data)
    if op not in ("subscribe", "unsubscribe"):
        known = ", ".join(["subscribe", "unsubscribe", "ping", *sorted(operations)])
        raise ProtocolError(ErrorCode.UNKNOWN_OP, f"unknown op {op!r}: use {known}", request_id)
    channels = data.get("channels")
    if (
        not isinstance(channels, list)
        or not channels
        or not all(isinstance(c, str) for c in channels)
    ):
        raise ProtocolError(
            ErrorCode.BAD_FRAME, "channels must be a non-empty list of names", request_id
        )
    since = data.get("since") or {}
    if not isinstance(since, dict) or not all(
        isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in since.values()
    ):
        raise ProtocolError(
            ErrorCode.BAD_FRAME, "since must map channel names to sequence numbers", request_id
        )
    epoch = data.get("epoch")
    if epoch is not None and not isinstance(epoch, int):
        raise ProtocolError(ErrorCode.BAD_FRAME, "epoch must be an integer", request_id)
    return Request(op, request_id, tuple(dict.fromkeys(channels)), since, epoch)


class RateLimit:
    """A token bucket: `rate` messages a second with bursts up to `burst`."""

    __slots__ = ("rate", "burst", "tokens", "stamp", "clock")

    def __init__(
        self,
        rate: float = MESSAGES_PER_SECOND,
        burst: int = MESSAGE_BURST,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.clock = clock
        self.stamp = clock()

    def allow(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def encode(message: dict[str, Any]) -> bytes:
    return orjson.dumps(message)


def error_frame(code: ErrorCode | str, message: str, request_id: Any = None) -> bytes:
    return encode({"type": "error", "id": request_id, "code": str(code), "message": message})
