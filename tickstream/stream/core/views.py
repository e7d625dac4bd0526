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


MAX_TRADES_PER_FLUSH = 200
MAX_WAITING = 10_000  # ticks held for a symbol while its snapshot is awaited


class MarketChannels:
    """The views of the symbols carried here and the market channels subscribed to them,
    with what each channel took since the last flush: a state channel (ticker, candles,
    analysis) is marked changed and sends its latest value (conflated); trades are kept
    one by one up to MAX_TRADES_PER_FLUSH, then a gap names the rest; candles keep the
    ones that closed."""

    def __init__(self, stats: dict[str, int], formats: dict[str, Encoder]) -> None:
        self.stats = stats  # the fan-out's counters: ticks, resyncs, conflated, trade_gaps
        self.formats = formats
        self.views: dict[str, SymbolView] = {}
        self.refs: dict[str, ChannelRef] = {}  # the subscribed market channels by name
        self.by_symbol: dict[str, set[str]] = {}
        self._dirty: dict[str, None] = {}
        self._trades: dict[str, list[tuple[int, Message]]] = {}
        self._gaps: dict[str, list[int]] = {}
        self._closed: dict[str, list[Message]] = {}
        self._sent: dict[str, int] = {}

    def subscribe(self, name: str, ref: ChannelRef) -> None:
        self.refs[name] = ref
        self.by_symbol.setdefault(ref.symbol or "", set()).add(name)

    def unsubscribe(self, name: str, symbol: str) -> bool:
        """The last subscriber of a channel left; whether no channel of `symbol` is left."""
        self.refs.pop(name, None)
        names = self.by_symbol.get(symbol, set())
        names.discard(name)
        if names:
            return False
        self.by_symbol.pop(symbol, None)
        return True

    def has_channels(self, symbol: str) -> bool:
        return bool(self.by_symbol.get(symbol))

    def reset(self, view: SymbolView) -> list[str]:
        """After a reload: the channels of the symbol, whose pending changes are dropped
        (the reset snapshots they get hold them)."""
        names = list(self.by_symbol.get(view.symbol, ()))
        for name in names:
            for pending in (self._dirty, self._trades, self._gaps, self._closed):
                pending.pop(name, None)
        return names

    def on_tick(self, m: Message) -> tuple[SymbolView | None, SymbolView | None]:
        """A market message: (the view that must be reloaded, after an epoch change or lost
        messages; the view it was applied to)."""
        view = self.views.get(m["symbol"])
        if view is None:
            return None, None
        if view.loading:
            if len(view.waiting) >= MAX_WAITING:  # no snapshot for long: keep the newest
                del view.waiting[: MAX_WAITING // 2]
            view.waiting.append(m)
            return None, None
        first: int = m["first"] if "first" in m else m["seq"]
        if m["epoch"] != view.epoch or first > view.seq + 1:
            self.stats["resyncs"] += 1
            view.waiting.append(m)
            view.loading = True  # later ticks wait for the snapshot too
            return view, None
        if m["seq"] <= view.seq:
            return None, None  # already applied (a snapshot covered it)
        trades, new_closed = view.apply_tick(m)
        self.stats["ticks"] += len(trades)
        for name in self.by_symbol.get(view.symbol, ()):
            ref = self.refs[name]
            if ref.kind == ChannelKind.TRADES:
                pending = self._trades.setdefault(name, [])
                room = MAX_TRADES_PER_FLUSH - len(pending)  # (never negative)
                pending += trades[:room]
                if room < len(trades):
                    first, last = trades[room][0], trades[-1][0]
                    gap = self._gaps.setdefault(name, [first, last])
                    gap[1] = last
                continue
            if ref.kind == ChannelKind.ANALYSIS and "analysis" not in m:
                continue
            if ref.kind == ChannelKind.CANDLES:
                closed = [c for c in new_closed if c["interval"] == ref.interval]
                if closed:
                    self._closed.setdefault(name, []).extend(closed)
            if name in self._dirty:
                self.stats["conflated"] += 1
            self._dirty[name] = None
        return None, view

    def changed(self) -> list[str]:
        """The channels with something to send at this flush."""
        return list(self._dirty) + [
            n for n in {**self._trades, **self._gaps} if n not in self._dirty
        ]

    def encode(self, name: str, wire: str) -> list[tuple[int, int, bytes]]:
        """The frames of a channel's update for one wire format, each with the range of
        seq it covers (a gap notice covers several)."""
        ref = self.refs[name]
        view = self.views[ref.symbol or ""]
        if wire != "v1":
            message = self.formats[wire](ref, view)
            return [] if message is None else [(view.seq, view.seq, encode(message))]
        if ref.kind == ChannelKind.TRADES:
            parts = [
                (s, s, encode({"type": "update", "channel": name, "seq": s, "data": t}))
                for s, t in self._trades.get(name, ())
            ]
            gap = self._gaps.get(name)
            if gap is not None:  # the trades past the bound of one flush
                parts.append((gap[0], gap[1], gap_frame(name, gap[0], gap[1])))
            return parts
        seq, data = v1_state(ref, view)
        if ref.kind == ChannelKind.CANDLES:
            data = {"candle": data["candle"], "closed": self._closed.get(name, [])}
        return [(seq, seq, encode({"type": "update", "channel": name, "seq": seq, "data": data}))]

    def current_seq(self, name: str) -> int:
        ref = self.refs[name]
        view = self.views.get(ref.symbol or "")
        if view is None:
            return 0
        return view.analysis_seq if ref.kind == ChannelKind.ANALYSIS else view.seq

    def sent(self, name: str) -> int:
        """The seq a channel's last flush sent up to."""
        return self._sent.get(name, 0)

    def flushed(self, names: list[str]) -> None:
        """`names` were sent: their pending changes are gone."""
        for name in names:
            self._sent[name] = self.current_seq(name)
            if name in self._gaps:
                self.stats["trade_gaps"] += 1
        self._dirty.clear()
        self._trades.clear()
        self._gaps.clear()
        self._closed.clear()
