"""The fan-out core (pure: no asyncio, no Django, no sockets): the router of four channel
families, each a module that decides and returns what it wants done.

- `views.py`, the market family: one `SymbolView` per symbol carried (latest state, short
  histories for resume), how it reads in protocol v1, and what each market channel took
  since the last flush (`MarketChannels`);
- `published.py`, channels fed by `publish`: numbering, history for resume, conflation;
- `sequenced.py`, groups numbered by the event log, applied in order (`Sequencer`);
- `derived.py`, values an app derives from market quotes (`DerivedValues`).

The fan-out keeps the subscriptions and what each flush sends where, once per wire format
and channel: slow connections (one over the high-water mark gets nothing more until it
drains, then one catch-up per channel) and what a new subscriber's snapshot already held.
It takes broker messages (`on_tick`, `on_publish`), subscriptions (`add`, `remove`) and
snapshots (`load`); every call that has something for its driver (`stream/hub.py`)
returns one `Effects`: the frames to write, and the views to load, symbols and groups to
leave and gaps to fill. The driver never reads the core's lists.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from tickstream.stream.core.derived import Derived, DerivedValues
from tickstream.stream.core.protocol import ChannelRef, encode
from tickstream.stream.core.published import Published
from tickstream.stream.core.sequenced import Sequencer
from tickstream.stream.core.views import (
    Connection,
    Encoder,
    MarketChannels,
    Message,
    SymbolView,
    frame_of,
    gap_frame,
    update_of,
    v1_since,
    v1_snapshot,
)

HIGH_WATER = 8  # frames queued for a connection before it is treated as slow


class Effects(list[tuple[Connection, bytes]]):
    """What one call into the core asks of its driver, as python-websockets' protocol
    hands back `data_to_send()`: the frames to write (the list itself, each with its
    connection); `follow`, the (derived key, symbol) whose market view must be loaded;
    `release`, symbols nobody here follows any more (leave their market group); `leave`,
    published groups nobody here follows any more; `fill`, sequenced groups whose gap the
    event log must fill."""

    __slots__ = ("follow", "release", "leave", "fill")

    def __init__(self, frames: Iterable[tuple[Connection, bytes]] = ()) -> None:
        super().__init__(frames)
        self.follow: list[tuple[str, str]] = []
        self.release: list[str] = []
        self.leave: list[str] = []
        self.fill: list[str] = []

    def merge(self, other: Effects) -> Effects:
        self.extend(other)
        self.follow += other.follow
        self.release += other.release
        self.leave += other.leave
        self.fill += other.fill
        return self


class FanOut:
    """Subscriptions, the three families, and what every flush sends where.

    Keys: a market channel is keyed by its name (`trades:AAPL`), a published channel by
    its broker group (a user's `orders` and another user's are two keys).
    """

    def __init__(self, formats: dict[str, Encoder] | None = None) -> None:
        self.formats: dict[str, Encoder] = formats if formats is not None else {}
        self.subscribers: dict[str, set[Connection]] = {}
        self.refs: dict[str, ChannelRef] = {}
        self.slow: dict[Connection, dict[str, int]] = {}
        # Per connection, channels it has just been given a snapshot of, with the snapshot's
        # seq: the next flush leaves out what that snapshot already held.
        self._joined: dict[Connection, dict[str, int]] = {}
        # Subscribers of a sequenced group not yet caught up: nothing live until then.
        self._catching: dict[str, set[Connection]] = {}
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
        self.market = MarketChannels(self.stats, self.formats)
        self.derived = DerivedValues()
        self.sequencer = Sequencer(self.stats)
        self.published = Published(self.stats)

    @property
    def views(self) -> dict[str, SymbolView]:
        return self.market.views

    # --- what the driver may ask ---

    def follows(self, key: str) -> bool:
        """Whether anybody here subscribes to a channel key."""
        return key in self.subscribers

    def symbols(self) -> list[str]:
        """The symbols whose views are carried here."""
        return list(self.views)

    def view_of(self, symbol: str) -> SymbolView | None:
        return self.views.get(symbol)

    def derives(self, key: str) -> bool:
        """Whether a derived value is kept here for a group."""
        return key in self.derived

    def published_groups(self) -> list[str]:
        """The published groups followed here."""
        return [key for key, ref in self.refs.items() if not ref.public]

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
        return self.market.has_channels(symbol) or self.derived.followed(symbol)

    def load(self, view: SymbolView, snapshot: Message) -> None:
        """An exact snapshot arrived: apply it, then the ticks that came after it."""
        view.apply_snapshot(snapshot)
        waiting, view.waiting = view.waiting, []
        view.loading = False
        for m in waiting:
            if m["epoch"] == view.epoch and m["seq"] > view.seq:
                self.on_tick(m)
        self.derived.ticked(view.symbol)

    def reset_frames(self, view: SymbolView) -> list[tuple[Connection, bytes]]:
        """After a reload: a reset snapshot to every v1 subscriber of the symbol (what was
        pending for its channels is in the snapshots)."""
        out = []
        for name in self.market.reset(view):
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
            return self.published.since(key, since)
        self.market.subscribe(key, ref)
        if conn.wire != "v1":
            message = self.formats[conn.wire](ref, view)
            messages = [] if message is None else [message]
        elif since is not None and epoch in (None, view.epoch):
            messages = v1_since(ref, view, since)
        else:
            messages = [v1_snapshot(ref, view, reset=since is not None)]
        # What is pending for the channel's next flush is already in these messages.
        self._joined.setdefault(conn, {})[key] = self.market.current_seq(key)
        return messages

    def remove(self, conn: Connection, ref: ChannelRef, key: str) -> Effects:
        """Unsubscribe; the symbols and groups nobody here follows any more."""
        out = Effects()
        subs = self.subscribers.get(key)
        if not subs or conn not in subs:
            return out
        subs.discard(conn)
        self.slow.get(conn, {}).pop(key, None)
        catching = self._catching.get(key)
        if catching is not None:
            catching.discard(conn)
        if subs:
            return out
        del self.subscribers[key]
        self.refs.pop(key, None)
        if ref.symbol is None or not ref.public:
            self._forget_group(key)
            for symbol in self.derived.remove(key):
                self._release(symbol, out)
            out.leave.append(key)
            return out
        if not self.market.unsubscribe(key, ref.symbol):
            return out
        if not self.derived.followed(ref.symbol):  # else a derived value still follows it
            self.views.pop(ref.symbol, None)
            out.release.append(ref.symbol)
        return out

    def _release(self, symbol: str, out: Effects) -> None:
        """No derived value follows `symbol` any more: its view goes unless a market
        channel is subscribed."""
        if not self.market.has_channels(symbol):
            self.views.pop(symbol, None)
            out.release.append(symbol)

    def _forget_group(self, key: str) -> None:
        """Nobody here follows a published group any more: its state goes (a sequenced
        one starts again from the event log if somebody subscribes)."""
        sequenced = self.sequencer.forget(key)
        self._catching.pop(key, None)
        # (a numbered-here group keeps its history: it has no other)
        self.published.forget(key, history=sequenced)

    # --- derived channels ---

    def add_derived(self, key: str, ref: ChannelRef, value: Derived) -> list[str]:
        """Start deriving the published channel `key` (subscribers are added with `add`);
        returns the symbols whose views the driver must load and `follow`."""
        self.refs[key] = ref
        return self.derived.add(key, value)

    def follow(self, key: str, view: SymbolView, *, announce: bool = True) -> None:
        """A derived channel follows a symbol's (loaded) view: marked with it at once (sent
        at the next flush if `announce`; a channel being built starts from its snapshot),
        and after every flush in which it ticked."""
        self.derived.follow(key, view.symbol, view.quote, announce=announce)

    def derived_snapshot(self, key: str) -> Message:
        """A derived channel's current value as a v1 snapshot."""
        ref = self.refs[key]
        seq = self.published.seq(key)
        return {
            "type": "snapshot",
            "channel": ref.name,
            "epoch": 0,
            "seq": seq,
            "reset": False,
            "data": self.derived.data(key),
        }

    def _derive(self) -> None:
        """Mark every derived value with the quotes that moved; publish what changed (as
        conflated updates: sent by this flush)."""
        quotes = {s: self.views[s].quote for s in self.derived.moved() if s in self.views}
        for key in self.derived.mark(quotes):
            self.published.conflate(key, self.refs[key].name, self.derived.update_data(key))

    def _changed(self, key: str, change: Any) -> Effects:
        """A published change of a derived channel (its app's data changed): applied; the
        symbols it now names are followed (or loaded first) and those it dropped released."""
        out = Effects()
        follow, released = self.derived.apply(key, change)
        for symbol in released:
            self._release(symbol, out)
        for symbol in follow:
            view = self.views.get(symbol)
            if view is not None and not view.loading:
                self.follow(key, view)
            else:
                out.follow.append((key, symbol))
        return out

    def drop(self, conn: Connection) -> None:
        """Forget a closed connection's bookkeeping (its subscriptions are removed first)."""
        self.slow.pop(conn, None)
        self._joined.pop(conn, None)

    # --- incoming ---

    def on_tick(self, m: Message) -> SymbolView | None:
        """A market message; returns the view that must be reloaded (epoch change or lost
        messages), whose subscribers then get reset snapshots: never a silent gap."""
        stale, applied = self.market.on_tick(m)
        if applied is not None:
            self.derived.ticked(applied.symbol)
        return stale

    def on_publish(self, m: Message) -> Effects:
        """A published event. A sequenced one (it carries the event log's `seq`) is
        applied in order (`Sequencer`): a duplicate is dropped, one ahead of a missing
        number waits for it (and the driver fills the gap from the log if it does not
        come)."""
        if m.get("seq") is None or m.get("derived"):
            return self._emit(m)
        ready, fill = self.sequencer.accept(m)
        out = Effects()
        if fill:
            out.fill.append(m["group"])
        for message in ready:
            out.merge(self._emit(message))
        return out

    def starting(self, key: str) -> None:
        """A sequenced group was just joined: hold its messages until `start` says where
        its numbers are."""
        self.sequencer.starting(key)

    def start(self, key: str, current: int) -> Effects:
        """The event log's number of a group when this process joined it: what arrived
        up to it is in every snapshot and history read after; the rest is applied."""
        ready, fill = self.sequencer.start(key, current)
        out = Effects()
        if fill:
            out.fill.append(key)
        for message in ready:
            out.merge(self._emit(message))
        return out

    def is_starting(self, key: str) -> bool:
        return self.sequencer.is_starting(key)

    def sequenced_groups(self) -> list[str]:
        """The sequenced groups followed here whose numbers are known."""
        return [key for key in self.sequencer.groups() if key in self.subscribers]

    def needs_fill(self, key: str) -> bool:
        """Mark a group as being filled from the log; False if it is already."""
        return self.sequencer.needs_fill(key)

    def in_seq(self, key: str) -> int:
        """The last number of a sequenced group applied here."""
        return self.sequencer.last(key)

    def fill(self, key: str, events: list[Message]) -> Effects:
        """The event log's messages past the last applied one (after a gap was seen, or
        the broker came back): applied in order. What the log no longer holds is named
        to the subscribers in a `gap` (a client resyncs, and gets a reset snapshot), and
        the group goes on from the messages held."""
        before, gap, after = self.sequencer.fill(key, events)
        out = Effects()
        for m in before:
            out.merge(self._emit(m))
        if gap is not None and key not in self.derived and key in self.refs:
            frame = gap_frame(self.refs[key].name, *gap)  # (a derived value is whole in
            out += [(c, frame_of(c, [frame])[0]) for c in self._live(key)]  # its next change)
        for m in after:
            out.merge(self._emit(m))
        return out

    def catch_up(
        self, conn: Connection, key: str, since: int, stored: Iterable[Message] = ()
    ) -> list[Message] | None:
        """Bring a catching subscriber from `since` to what was applied here, from the
        history in memory and what the log returned (`stored`); then it gets every later
        message live. None if they do not hold it all (it needs a snapshot)."""
        last = self.sequencer.last(key)
        missed: dict[int, Message] = {}
        if since < last:
            missed = {s: u for s, u in self.published.updates(key).items() if s > since}
            for m in stored:
                if since < m["seq"] <= last and m["seq"] not in missed:
                    missed[m["seq"]] = update_of(m, m["seq"])
            if any(s not in missed for s in range(since + 1, last + 1)):
                return None
        catching = self._catching.get(key)
        if catching is not None:
            catching.discard(conn)
        return [missed[s] for s in sorted(missed)]

    def _live(self, key: str) -> Iterable[Connection]:
        """The subscribers of a group that get its messages live (not still catching up);
        read at once (the set itself when none is catching up)."""
        catching = self._catching.get(key)
        subs = self.subscribers.get(key, ())
        return [c for c in subs if c not in catching] if catching else subs

    def _emit(self, m: Message) -> Effects:
        """Number (if the log did not), keep for resume and send a published event: at
        once, or, for a conflated channel (`"conflate": true`), as the latest value at
        the next flush."""
        key = m["group"]
        out = Effects()
        if key in self.derived and not m.get("derived"):
            out.merge(self._changed(key, m["data"]))
            m = {**m, "data": self.derived.data(key), "conflate": True}
        # A derived value is numbered here, and whole in each update.
        whole = key in self.derived
        update = self.published.record(key, m, numbered="seq" in m and not whole, whole=whole)
        if update is None:  # conflated: the next flush sends the latest
            return out
        frame = encode(update)
        out += [(conn, frame_of(conn, [frame])[0]) for conn in self._live(key)]
        return out

    def published_seq(self, key: str) -> int:
        """The seq of the last event published on a group (0 before any)."""
        return self.published.seq(key)

    def published_covers(self, key: str, since: int) -> bool:
        """Whether this process's history of a published group holds every event past
        `since` (`Published.covers`)."""
        return self.published.covers(key, since)

    # --- outgoing ---

    def flush(self) -> Effects:
        """Every changed channel encoded once per wire format: the frames to send, each
        with its connection (one batched frame per v1 connection)."""
        if self.derived.pending():
            self._derive()
        market = self.market
        sent: list[str] = []
        outbox: dict[Connection, list[bytes]] = {}
        for name in market.changed():
            if name not in self.refs:
                continue
            sent.append(name)
            encoded: dict[str, list[tuple[int, int, bytes]]] = {}
            for conn in self.subscribers.get(name, ()):
                joined = self._joined.get(conn)
                since = None if joined is None else joined.get(name)
                slow = self.slow.get(conn)
                if slow is not None or conn.backlog() > HIGH_WATER:
                    if slow is None:
                        slow = self.slow[conn] = {}
                    # What it has: what was sent before, or the snapshot it just got.
                    slow.setdefault(name, max(market.sent(name), since or 0))
                    continue
                parts = encoded.get(conn.wire)
                if parts is None:
                    parts = encoded[conn.wire] = market.encode(name, conn.wire)
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
        for key, update in self.published.take_latest().items():
            frame = encode(update)
            for conn in self._live(key):
                if conn in self.slow or conn.backlog() > HIGH_WATER:
                    self.slow.setdefault(conn, {})[key] = update["seq"] - 1
                else:
                    outbox.setdefault(conn, []).append(frame)
        self.derived.flushed()
        market.flushed(sent)
        self._joined.clear()
        out = Effects()
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

    def drained(self, conn: Connection) -> list[bytes]:
        """A connection's queue emptied: if it fell behind, the frames that catch it up."""
        missed = self.slow.pop(conn, None)
        if not missed:
            return []
        parts: list[bytes] = []
        for name, since in missed.items():
            ref = self.refs.get(name)
            if ref is not None and not ref.public:  # a published channel: its latest event
                last = self.published.last_update(name)
                if last is not None and last[0] > since:
                    parts.append(encode(last[1]))
                continue
            if ref is None or ref.symbol not in self.views:
                continue
            view = self.views[ref.symbol]
            # The next flush leaves out what this catch-up brings.
            self._joined.setdefault(conn, {})[name] = self.market.current_seq(name)
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
