"""The market family of the fan-out (pure): one view per symbol the process carries, with
its latest state and short histories, and how a view reads in protocol v1 (a snapshot,
an update, what a resuming subscriber missed). Also the wire types every family shares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tickstream.stream.core.protocol import ChannelKind, ChannelRef, encode

TRADE_HISTORY = 256  # trades kept per symbol for resume
CLOSED_HISTORY = 64  # closed candles kept per symbol and interval for resume

Message = dict[str, Any]
Encoder = Callable[[ChannelRef, "SymbolView"], "Message | None"]


class Connection(Protocol):
    """A connection as the fan-out sees it."""

    wire: str  # "v1" or the name of a tutorial format
    batch: bool  # True: one JSON array frame per flush; False: one frame per message

    def backlog(self) -> int: ...


@dataclass(slots=True)
class SymbolView:
    """What the fan-out holds for one symbol: the latest state and short histories."""

    symbol: str
    epoch: int = 0
    seq: int = 0
    analysis_seq: int = 0
    quote: Message | None = None
    candles: dict[str, Message] = field(default_factory=dict)
    analysis: dict[str, Message] = field(default_factory=dict)
    trades: deque[tuple[int, Message]] = field(default_factory=lambda: deque(maxlen=TRADE_HISTORY))
    closed: dict[str, deque[tuple[int, Message]]] = field(default_factory=dict)
    waiting: list[Message] = field(default_factory=list)  # ticks that beat the snapshot
    loading: bool = True  # until an exact snapshot is in, ticks wait

    def apply_snapshot(self, snap: Message) -> None:
        self.epoch, self.seq = snap["epoch"], snap["seq"]
        self.analysis_seq = snap["analysis_seq"]
        self.quote = snap["quote"]
        self.candles = dict(snap["candles"])
        self.analysis = dict(snap["analysis"])
        self.trades.clear()
        self.closed.clear()

    def apply_tick(self, m: Message) -> tuple[list[tuple[int, Message]], list[Message]]:
        """Apply a market message past this view's `seq`; returns its new trades with
        their numbers, and its new closed candles. A message holds one trade (`trade`,
        numbered `seq`) or several (`trades`, numbered `first` to `seq`; its closed
        candles numbered by `closed_seq`)."""
        after = self.seq
        trades = _numbered(m)
        if trades[0][0] <= after:
            trades = [(s, t) for s, t in trades if s > after]
        self.seq = m["seq"]
        self.quote = m["quote"]
        self.candles.update(m["candles"])
        self.trades.extend(trades)
        closed_seq = m.get("closed_seq")
        closed = []
        for i, c in enumerate(m["closed"]):
            s = m["seq"] if closed_seq is None else closed_seq[i]
            if s > after:
                closed.append(c)
                self.closed.setdefault(c["interval"], deque(maxlen=CLOSED_HISTORY)).append((s, c))
        if "analysis" in m:
            self.analysis = m["analysis"]
            self.analysis_seq = m["analysis_seq"]
        return trades, closed


def _numbered(m: Message) -> list[tuple[int, Message]]:
    """The trades of a market message with their numbers."""
    many = m.get("trades")
    if many is None:
        return [(m["seq"], m["trade"])]
    first = m["first"]
    if len(many) != m["seq"] - first + 1:
        raise ValueError(f"{len(many)} trades numbered {first}..{m['seq']}")
    return list(enumerate(many, start=first))


def v1_state(ref: ChannelRef, view: SymbolView) -> tuple[int, Any]:
    """(seq, data) of a state channel in protocol v1."""
    if ref.kind == ChannelKind.TICKER:
        return view.seq, view.quote
    if ref.kind == ChannelKind.ANALYSIS:
        return view.analysis_seq, view.analysis
    return view.seq, {"candle": view.candles.get(ref.interval or ""), "closed": []}


def v1_snapshot(ref: ChannelRef, view: SymbolView, *, reset: bool) -> Message:
    if ref.kind == ChannelKind.TRADES:
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
    if ref.kind == ChannelKind.TRADES:
        missed = [(s, t) for s, t in view.trades if s > since]
        first = missed[0][0] if missed else view.seq + 1
        if first > since + 1:
            return [v1_snapshot(ref, view, reset=True)]  # older than the history
        return [{"type": "update", "channel": ref.name, "seq": s, "data": t} for s, t in missed]
    if ref.kind == ChannelKind.CANDLES:
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
                "data": {"candle": view.candles.get(interval), "closed": closed},
            }
        ]
    seq, data = v1_state(ref, view)
    if seq <= since or data is None:
        return []
    return [{"type": "update", "channel": ref.name, "seq": seq, "data": data}]


def update_of(m: Message, seq: int) -> Message:
    """A published message as the `update` a client gets, numbered `seq`."""
    return {"type": "update", "channel": m["channel"], "seq": seq, "data": m["data"]}


def gap_frame(channel: str, first: int, last: int) -> bytes:
    return encode({"type": "gap", "channel": channel, "from": first, "to": last})


def frame_of(conn: Connection, parts: list[bytes]) -> list[bytes]:
    """The frames that carry `parts` to a connection: one array, or one frame each."""
    if not parts:
        return []
    return [b"[" + b",".join(parts) + b"]"] if conn.batch else list(parts)
