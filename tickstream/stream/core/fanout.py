"""The fan-out core (pure: no asyncio, no Django, no sockets).

It takes broker messages (`on_tick`, `on_publish`), subscriptions (`add`, `remove`) and
snapshots (`load`), and says what to send to which connection: `flush()` returns one batched
frame per connection. The asyncio driver (`stream/hub.py`) owns the timers, the broker and
the sockets, and calls these methods; the core holds:

- the latest state of each symbol it carries (`SymbolView`) and short histories for resume;
- conflation: state channels (ticker, candles, analysis) send their latest value per flush,
  so a skipped `seq` between two updates is not a loss;
- trades one by one up to a bound per flush, then a `gap` notice naming the missed seqs;
- slow connections: one over the high-water mark gets nothing more until it drains, then
  one catch-up per channel (the resume path);
- derived channels: a published channel whose value an app derives from market prices (a
  portfolio's valuation). The core follows the symbols it names, marks it with their
  latest quotes once per flush, and publishes the new value as a conflated update.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from tickstream.stream.core.protocol import ChannelKind, ChannelRef, encode

TRADE_HISTORY = 256  # trades kept per symbol for resume
CLOSED_HISTORY = 64  # closed candles kept per symbol and interval for resume
PUBLISHED_HISTORY = 100
MAX_TRADES_PER_FLUSH = 200
HIGH_WATER = 8  # frames queued for a connection before it is treated as slow
MAX_WAITING = 10_000  # ticks held for a symbol while its snapshot is awaited

Message = dict[str, Any]
Encoder = Callable[[ChannelRef, "SymbolView"], "Message | None"]


class Connection(Protocol):
    """A connection as the fan-out sees it."""

    wire: str  # "v1" or the name of a tutorial format
    batch: bool  # True: one JSON array frame per flush; False: one frame per message

    def backlog(self) -> int: ...


class Derived(Protocol):
    """A value an app derives from market quotes (registered as a channel kind's
    `derive`): the core marks it with new quotes and, when it changed, sends `update()`
    (what moved with the prices); a subscriber starts from `data()` (the whole value),
    which is also sent after a published change was applied."""

    def symbols(self) -> frozenset[str]: ...

    def mark_quotes(self, quotes: dict[str, Message | None]) -> bool: ...

    def apply(self, change: Any) -> None: ...

    def data(self) -> Any: ...

    def update(self) -> Any: ...


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


def _update(m: Message, seq: int) -> Message:
    return {"type": "update", "channel": m["channel"], "seq": seq, "data": m["data"]}


def gap_frame(channel: str, first: int, last: int) -> bytes:
    return encode({"type": "gap", "channel": channel, "from": first, "to": last})


def frame_of(conn: Connection, parts: list[bytes]) -> list[bytes]:
    """The frames that carry `parts` to a connection: one array, or one frame each."""
    if not parts:
        return []
    return [b"[" + b",".join(parts) + b"]"] if conn.batch else list(parts)


class FanOut:
    """Subscriptions, the symbols' views and what every flush sends where.

    Keys: a market channel is keyed by its name (`trades:AAPL`), a published channel by
    its broker group (a user's `orders` and another user's are two keys).
    """

    def __init__(self, formats: dict[str, Encoder] | None = None) -> None:
        self.formats: dict[str, Encoder] = formats if formats is not None else {}
        self.views: dict[str, SymbolView] = {}
        self.subscribers: dict[str, set[Connection]] = {}
        self.refs: dict[str, ChannelRef] = {}
        self.by_symbol: dict[str, set[str]] = {}
        self.published: dict[str, deque[tuple[int, Message]]] = {}
        self._published_seq: dict[str, int] = {}
        self.slow: dict[Connection, dict[str, int]] = {}
        self._dirty: dict[str, None] = {}
        self._trades: dict[str, list[tuple[int, Message]]] = {}
        self._gaps: dict[str, list[int]] = {}
        self._closed: dict[str, list[Message]] = {}
        self._sent_seq: dict[str, int] = {}
        self._latest: dict[str, Message] = {}  # conflated published channels, per group
        # Per connection, channels it has just been given a snapshot of, with the snapshot's
        # seq: the next flush leaves out what that snapshot already held.
        self._joined: dict[Connection, dict[str, int]] = {}
        # Derived channels (per group): their values, the symbols each follows, the
        # followed symbols that ticked since the last flush, and what the driver must
        # load (key, symbol) or leave (symbol) after a change.
        self.derived: dict[str, Derived] = {}
        self.followers: dict[str, set[str]] = {}
        self._ticked: set[str] = set()
        self._remarked: dict[str, None] = {}  # derived channels marked outside a flush
        self._whole: set[str] = set()  # derived channels whose pending update is whole
        self.to_follow: list[tuple[str, str]] = []
        self.to_release: list[str] = []
        # Sequenced published channels (numbered by the event log, the same on every
        # process), per group: the last number applied, messages that arrived ahead of a
        # missing one, groups waiting for their starting number, subscribers not yet
        # caught up (they get nothing live until then), and the gaps the driver must
        # fill from the log (group, last applied).
        self._in_seq: dict[str, int] = {}
        self._held: dict[str, dict[int, Message]] = {}
        self._starting: set[str] = set()
        self._catching: dict[str, set[Connection]] = {}
        self._filling: set[str] = set()
        self.to_fill: list[tuple[str, int]] = []
        self.stats = {
            "ticks": 0,
            "frames": 0,
            "updates": 0,
            "conflated": 0,
            "trade_gaps": 0,
            "resyncs": 0,
            "duplicates": 0,
            "reordered": 0,
            "published_gaps": 0,
        }

    # --- symbols ---

    def view(self, symbol: str) -> tuple[SymbolView, bool]:
        """The view of a symbol, and whether it was just created (and must be loaded)."""
        view = self.views.get(symbol)
        if view is not None:
            return view, False
        view = self.views[symbol] = SymbolView(symbol)
        return view, True

    def forget(self, view: SymbolView) -> bool:
        """Drop a view nobody follows (a failed load); True if it was dropped."""
        if self.views.get(view.symbol) is view and not self._followed(view.symbol):
            del self.views[view.symbol]
            return True
        return False

    def _followed(self, symbol: str) -> bool:
        return bool(self.by_symbol.get(symbol) or self.followers.get(symbol))

    def load(self, view: SymbolView, snapshot: Message) -> None:
        """An exact snapshot arrived: apply it, then the ticks that came after it."""
        view.apply_snapshot(snapshot)
        waiting, view.waiting = view.waiting, []
        view.loading = False
        for m in waiting:
            if m["epoch"] == view.epoch and m["seq"] > view.seq:
                self.on_tick(m)
        if view.symbol in self.followers:
            self._ticked.add(view.symbol)

    def reset_frames(self, view: SymbolView) -> list[tuple[Connection, bytes]]:
        """After a reload: a reset snapshot to every v1 subscriber of the symbol (what was
        pending for its channels is in the snapshots)."""
        out = []
        for name in self.by_symbol.get(view.symbol, ()):
            for pending in (self._dirty, self._trades, self._gaps, self._closed):
                pending.pop(name, None)
            ref = self.refs[name]
            for conn in self.subscribers.get(name, ()):
                if conn.wire == "v1":
                    out.append((conn, encode(v1_snapshot(ref, view, reset=True))))
        return out

    # --- subscriptions ---

    def add(
        self,
        conn: Connection,
        ref: ChannelRef,
        key: str,
        *,
        view: SymbolView | None = None,
        since: int | None = None,
        epoch: int | None = None,
        catching: bool = False,
    ) -> list[Message]:
        """Subscribe `conn` (the view of a market channel is loaded); return the messages
        that bring it up to date. A `catching` subscriber of a sequenced channel gets
        nothing until `catch_up` brings it up to date."""
        self.refs[key] = ref
        self.subscribers.setdefault(key, set()).add(conn)
        if catching:
            self._catching.setdefault(key, set()).add(conn)
            return []
        if view is None:  # a published channel: what the history holds past `since`
            if since is None or not self.published_covers(key, since):
                return []  # (a channel with a snapshot starts from it)
            return [m for s, m in self.published.get(key, ()) if s > since]
        self.by_symbol.setdefault(view.symbol, set()).add(key)
        if conn.wire != "v1":
            message = self.formats[conn.wire](ref, view)
            messages = [] if message is None else [message]
        elif since is not None and epoch in (None, view.epoch):
            messages = v1_since(ref, view, since)
        else:
            messages = [v1_snapshot(ref, view, reset=since is not None)]
        # What is pending for the channel's next flush is already in these messages.
        self._joined.setdefault(conn, {})[key] = self._current_seq(key)
        return messages

    def remove(self, conn: Connection, ref: ChannelRef, key: str) -> str | None:
        """Unsubscribe; return the symbol or group nobody here follows any more."""
        subs = self.subscribers.get(key)
        if not subs or conn not in subs:
            return None
        subs.discard(conn)
        self.slow.get(conn, {}).pop(key, None)
        catching = self._catching.get(key)
        if catching is not None:
            catching.discard(conn)
        if subs:
            return None
        del self.subscribers[key]
        self.refs.pop(key, None)
        if ref.symbol is None or not ref.public:
            self._forget_group(key)
            value = self.derived.pop(key, None)
            if value is not None:
                for symbol in list(self.followers):
                    self._unfollow(key, symbol)
            return key
        names = self.by_symbol.get(ref.symbol, set())
        names.discard(key)
        if names:
            return None
        self.by_symbol.pop(ref.symbol, None)
        if self.followers.get(ref.symbol):
            return None  # a derived channel still follows it
        self.views.pop(ref.symbol, None)
        return ref.symbol

    def _forget_group(self, key: str) -> None:
        """Nobody here follows a published group any more: its state goes (a sequenced
        one starts again from the event log if somebody subscribes)."""
        sequenced = self._in_seq.pop(key, None) is not None or key in self._starting
        self._held.pop(key, None)
        self._catching.pop(key, None)
        self._starting.discard(key)
        self._latest.pop(key, None)
        if sequenced:  # (a numbered-here group keeps its history: it has no other)
            self.published.pop(key, None)
            self._published_seq.pop(key, None)

    # --- derived channels ---

    def add_derived(self, key: str, ref: ChannelRef, value: Derived) -> list[str]:
        """Start deriving the published channel `key` (subscribers are added with `add`);
        returns the symbols whose views the driver must load and `follow`."""
        self.derived[key] = value
        self.refs[key] = ref
        return sorted(value.symbols())

    def follow(self, key: str, view: SymbolView, *, announce: bool = True) -> None:
        """A derived channel follows a symbol's (loaded) view: marked with it at once (sent
        at the next flush if `announce`; a channel being built starts from its snapshot),
        and after every flush in which it ticked."""
        value = self.derived.get(key)
        if value is None or view.symbol not in value.symbols():
            return
        self.followers.setdefault(view.symbol, set()).add(key)
        if value.mark_quotes({view.symbol: view.quote}) and announce:
            self._remarked[key] = None

    def _unfollow(self, key: str, symbol: str) -> None:
        keys = self.followers.get(symbol)
        if keys is None or key not in keys:
            return
        keys.discard(key)
        if keys:
            return
        del self.followers[symbol]
        if not self.by_symbol.get(symbol):
            self.views.pop(symbol, None)
            self.to_release.append(symbol)

    def derived_snapshot(self, key: str) -> Message:
        """A derived channel's current value as a v1 snapshot."""
        ref = self.refs[key]
        seq = self._published_seq.get(key, 0)
        return {
            "type": "snapshot",
            "channel": ref.name,
            "epoch": 0,
            "seq": seq,
            "reset": False,
            "data": self.derived[key].data(),
        }

    def _derive(self) -> None:
        """Mark every derived value with the quotes that moved; publish what changed."""
        changed, self._remarked = self._remarked, {}
        quotes = {s: self.views[s].quote for s in self._ticked if s in self.views}
        affected: set[str] = set()
        for symbol in quotes:
            affected.update(self.followers.get(symbol, ()))
        for key in affected:  # each value marked once, with every quote that moved
            if self.derived[key].mark_quotes(quotes):
                changed[key] = None
        self._ticked.clear()
        for key in changed:
            self._publish_derived(key)

    def _publish_derived(self, key: str) -> None:
        value = self.derived[key]
        # A whole value already waiting for this flush (a change) stays whole: marks
        # alone would not carry the change.
        data = value.data() if key in self._whole else value.update()
        m = {"group": key, "channel": self.refs[key].name, "conflate": True, "derived": True}
        self.on_publish({**m, "data": data})

    def _changed(self, key: str, change: Any) -> None:
        """A published change of a derived channel (its app's data changed): applied, then
        the symbols it now names are followed and those it dropped released."""
        value = self.derived[key]
        before = {s for s, keys in self.followers.items() if key in keys}
        value.apply(change)
        now = value.symbols()
        for symbol in before - now:
            self._unfollow(key, symbol)
        for symbol in sorted(now - before):
            view = self.views.get(symbol)
            if view is not None and not view.loading:
                self.follow(key, view)
            else:
                self.to_follow.append((key, symbol))

    def drop(self, conn: Connection) -> None:
        """Forget a closed connection's bookkeeping (its subscriptions are removed first)."""
        self.slow.pop(conn, None)
        self._joined.pop(conn, None)

    # --- incoming ---

    def on_tick(self, m: Message) -> SymbolView | None:
        """A market message; returns the view that must be reloaded (epoch change or lost
        messages), whose subscribers then get reset snapshots: never a silent gap."""
        view = self.views.get(m["symbol"])
        if view is None:
            return None
        if view.loading:
            if len(view.waiting) >= MAX_WAITING:  # no snapshot for long: keep the newest
                del view.waiting[: MAX_WAITING // 2]
            view.waiting.append(m)
            return None
        first: int = m["first"] if "first" in m else m["seq"]
        if m["epoch"] != view.epoch or first > view.seq + 1:
            self.stats["resyncs"] += 1
            view.waiting.append(m)
            view.loading = True  # later ticks wait for the snapshot too
            return view
        if m["seq"] <= view.seq:
            return None  # already applied (a snapshot covered it)
        trades, new_closed = view.apply_tick(m)
        self.stats["ticks"] += len(trades)
        if view.symbol in self.followers:
            self._ticked.add(view.symbol)
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
        return None

    def on_publish(self, m: Message) -> list[tuple[Connection, bytes]]:
        """A published event. A sequenced one (it carries the event log's `seq`) is
        applied in order: a duplicate is dropped, one ahead of a missing number waits for
        it (and the driver fills the gap from the log if it does not come)."""
        seq = m.get("seq")
        if seq is None or m.get("derived"):
            return self._emit(m)
        key = m["group"]
        if key in self._starting:
            self._held.setdefault(key, {})[seq] = m
            return []
        last = self._in_seq.get(key, seq - 1)
        if seq <= last:
            self.stats["duplicates"] += 1
            return []
        if seq > last + 1:
            self.stats["reordered"] += 1
            self._held.setdefault(key, {})[seq] = m
            if self.needs_fill(key):
                self.to_fill.append((key, last))
            return []
        return self._apply_in_order(key, m)

    def _apply_in_order(self, key: str, m: Message | None) -> list[tuple[Connection, bytes]]:
        """Apply a sequenced message that is next in its group, then any held after it."""
        out: list[tuple[Connection, bytes]] = []
        held = self._held.get(key, {})
        while m is not None:
            self._in_seq[key] = m["seq"]
            out += self._emit(m)
            m = held.pop(m["seq"] + 1, None)
        if not held:
            self._held.pop(key, None)
        return out

    def starting(self, key: str) -> None:
        """A sequenced group was just joined: hold its messages until `start` says where
        its numbers are."""
        if key not in self._in_seq:
            self._starting.add(key)

    def start(self, key: str, current: int) -> list[tuple[Connection, bytes]]:
        """The event log's number of a group when this process joined it: what arrived
        up to it is in every snapshot and history read after; the rest is applied."""
        if key not in self._starting:
            return []
        self._starting.discard(key)
        self._in_seq[key] = current
        held = self._held.pop(key, {})
        out: list[tuple[Connection, bytes]] = []
        for seq in sorted(held):
            out += self.on_publish(held[seq])
        return out

    def is_starting(self, key: str) -> bool:
        return key in self._starting

    def sequenced_groups(self) -> list[str]:
        """The sequenced groups followed here whose numbers are known."""
        return [key for key in self._in_seq if key in self.subscribers]

    def needs_fill(self, key: str) -> bool:
        """Mark a group as being filled from the log; False if it is already."""
        if key in self._filling:
            return False
        self._filling.add(key)
        return True

    def in_seq(self, key: str) -> int:
        """The last number of a sequenced group applied here."""
        return self._in_seq.get(key, 0)

    def fill(self, key: str, events: list[Message]) -> list[tuple[Connection, bytes]]:
        """The event log's messages past the last applied one (after a gap was seen, or
        the broker came back): applied in order. What the log no longer holds is named
        to the subscribers in a `gap` (a client resyncs, and gets a reset snapshot), and
        the group goes on from the messages held."""
        self._filling.discard(key)
        if key not in self._in_seq:
            return []
        out: list[tuple[Connection, bytes]] = []
        for m in events:
            if m["seq"] == self._in_seq[key] + 1:
                out += self._apply_in_order(key, m)
        held = self._held.get(key)
        if held:
            first, last = self._in_seq[key] + 1, min(held) - 1
            self.stats["published_gaps"] += 1
            if key not in self.derived and key in self.refs:  # (a derived value is whole
                frame = gap_frame(self.refs[key].name, first, last)  # in its next change)
                out += [(c, frame_of(c, [frame])[0]) for c in self._live(key)]
            self._in_seq[key] = last
            out += self._apply_in_order(key, held.pop(last + 1))
        return out

    def catch_up(
        self, conn: Connection, key: str, since: int, stored: Iterable[Message] = ()
    ) -> list[Message] | None:
        """Bring a catching subscriber from `since` to what was applied here, from the
        history in memory and what the log returned (`stored`); then it gets every later
        message live. None if they do not hold it all (it needs a snapshot)."""
        last = self._in_seq.get(key, 0)
        missed: dict[int, Message] = {}
        if since < last:
            missed = {s: u for s, u in self.published.get(key, ()) if s > since}
            for m in stored:
                if since < m["seq"] <= last and m["seq"] not in missed:
                    missed[m["seq"]] = _update(m, m["seq"])
            if any(s not in missed for s in range(since + 1, last + 1)):
                return None
        catching = self._catching.get(key)
        if catching is not None:
            catching.discard(conn)
        return [missed[s] for s in sorted(missed)]

    def _live(self, key: str) -> list[Connection]:
        """The subscribers of a group that get its messages live (not still catching up)."""
        catching = self._catching.get(key)
        subs = self.subscribers.get(key, ())
        return [c for c in subs if c not in catching] if catching else list(subs)

    def _emit(self, m: Message) -> list[tuple[Connection, bytes]]:
        """Number (if the log did not), keep for resume and send a published event: at
        once, or, for a conflated channel (`"conflate": true`), as the latest value at
        the next flush."""
        key = m["group"]
        if key in self.derived and not m.get("derived"):
            self._changed(key, m["data"])
            m = {**m, "data": self.derived[key].data(), "conflate": True}
            self._whole.add(key)
        if "seq" in m and key not in self.derived:
            seq = m["seq"]
        else:  # this process numbers it (a derived value: every update is whole)
            seq = self._published_seq.get(key, 0) + 1
        self._published_seq[key] = seq
        update = _update(m, seq)
        # A derived value is whole in each update: a resume needs only the latest.
        depth = 1 if key in self.derived else PUBLISHED_HISTORY
        history = self.published.get(key)
        if history is None or history.maxlen != depth:
            history = self.published[key] = deque(history or (), maxlen=depth)
        history.append((seq, update))
        if m.get("conflate"):
            if key in self._latest:
                self.stats["conflated"] += 1
            self._latest[key] = update
            return []
        frame = encode(update)
        return [(conn, frame_of(conn, [frame])[0]) for conn in self._live(key)]

    def published_seq(self, key: str) -> int:
        """The seq of the last event published on a group (0 before any)."""
        return self._published_seq.get(key, 0)

    def published_covers(self, key: str, since: int) -> bool:
        """Whether this process's history of a published group holds every event past
        `since`. Not when `since` is a number this process never gave (a client that
        resumes after a restart, or on another process: they number on their own), nor
        when the history no longer reaches back to it."""
        last = self._published_seq.get(key, 0)
        if since == last:
            return True
        if since > last or since < 0:
            return False
        held = {s for s, _ in self.published.get(key, ())}
        return all(s in held for s in range(since + 1, last + 1))

    # --- outgoing ---

    def _encode_channel(self, name: str, wire: str) -> list[tuple[int, int, bytes]]:
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

    def flush(self) -> list[tuple[Connection, bytes]]:
        """Every changed channel encoded once per wire format: the frames to send, each
        with its connection (one batched frame per v1 connection)."""
        if self._ticked or self._remarked:
            self._derive()
        dirty = list(self._dirty) + [
            n for n in {**self._trades, **self._gaps} if n not in self._dirty
        ]
        outbox: dict[Connection, list[bytes]] = {}
        for name in dirty:
            if name not in self.refs:
                continue
            encoded: dict[str, list[tuple[int, int, bytes]]] = {}
            for conn in self.subscribers.get(name, ()):
                joined = self._joined.get(conn)
                since = None if joined is None else joined.get(name)
                slow = self.slow.get(conn)
                if slow is not None or conn.backlog() > HIGH_WATER:
                    if slow is None:
                        slow = self.slow[conn] = {}
                    # What it has: what was sent before, or the snapshot it just got.
                    slow.setdefault(name, max(self._sent_seq.get(name, 0), since or 0))
                    continue
                parts = encoded.get(conn.wire)
                if parts is None:
                    parts = encoded[conn.wire] = self._encode_channel(name, conn.wire)
                if since is None:
                    frames = [frame for _, _, frame in parts]
                else:  # its snapshot already holds everything up to `since`
                    frames = [
                        frame if first > since else gap_frame(name, since + 1, last)
                        for first, last, frame in parts
                        if last > since
                    ]
                if frames:
                    outbox.setdefault(conn, []).extend(frames)
            self._sent_seq[name] = self._current_seq(name)
            if name in self._gaps:
                self.stats["trade_gaps"] += 1
        for key, update in self._latest.items():
            frame = encode(update)
            for conn in self._live(key):
                if conn in self.slow or conn.backlog() > HIGH_WATER:
                    self.slow.setdefault(conn, {})[key] = update["seq"] - 1
                else:
                    outbox.setdefault(conn, []).append(frame)
        self._latest.clear()
        self._whole.clear()
        self._dirty.clear()
        self._trades.clear()
        self._gaps.clear()
        self._closed.clear()
        self._joined.clear()
        out: list[tuple[Connection, bytes]] = []
        updates = 0
        for conn, queued in outbox.items():
            updates += len(queued)
            if conn.batch:
                out.append((conn, b"[" + b",".join(queued) + b"]"))
            else:
                out += [(conn, frame) for frame in queued]
        self.stats["updates"] += updates
        self.stats["frames"] += len(out)
        return out

    def _current_seq(self, name: str) -> int:
        ref = self.refs[name]
        view = self.views.get(ref.symbol or "")
        if view is None:
            return 0
        return view.analysis_seq if ref.kind == ChannelKind.ANALYSIS else view.seq

    def drained(self, conn: Connection) -> list[bytes]:
        """A connection's queue emptied: if it fell behind, the frames that catch it up."""
        missed = self.slow.pop(conn, None)
        if not missed:
            return []
        parts: list[bytes] = []
        for name, since in missed.items():
            ref = self.refs.get(name)
            if ref is not None and not ref.public:  # a published channel: its latest event
                history = self.published.get(name)
                if history and history[-1][0] > since:
                    parts.append(encode(history[-1][1]))
                continue
            if ref is None or ref.symbol not in self.views:
                continue
            view = self.views[ref.symbol]
            # The next flush leaves out what this catch-up brings.
            self._joined.setdefault(conn, {})[name] = self._current_seq(name)
            if conn.wire == "v1":
                parts += [encode(m) for m in v1_since(ref, view, since)]
            else:
                message = self.formats[conn.wire](ref, view)
                if message is not None:
                    parts.append(encode(message))
        return frame_of(conn, parts)

    def is_slow(self, conn: Connection) -> bool:
        return conn in self.slow

    def held_back(self) -> Iterable[Connection]:
        return list(self.slow)
