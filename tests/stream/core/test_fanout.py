"""The fan-out core on its own: no database, no event loop, no sleeps. The pipeline (run
without a loop) makes the broker messages and exact snapshots; the core says what each
connection gets."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support import trades_problems
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.pipeline import Pipeline
from tickstream.stream.core import views
from tickstream.stream.core.fanout import HIGH_WATER, FanOut
from tickstream.stream.core.protocol import ChannelKind, ChannelRef

SYMBOLS = ("AAPL", "MSFT")
T0 = 1_795_000_000 * NS_PER_S


class Conn:
    wire = "v1"
    batch = True

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.queued = 0  # what the socket has not taken yet

    def take(self, frames: list[bytes]) -> None:
        for frame in frames:
            data = orjson.loads(frame)
            self.messages.extend(data if isinstance(data, list) else [data])

    def backlog(self) -> int:
        return self.queued


class Capture:
    """The pipeline's publisher, keeping what it would send."""

    sent = dropped = failed = 0

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []

    def offer(self, group: str, message: dict[str, Any]) -> None:
        self.messages.append(message)


class Market:
    """The real pipeline (its numbered messages and exact snapshots), with no event loop."""

    def __init__(self) -> None:
        specs = [InstrumentSpec(s, s, InstrumentKind.STOCK) for s in SYMBOLS]
        self.engine = MarketEngine(specs, STANDARD_INTERVALS, [], max_delay_s=None)
        self.sent = Capture()
        self.pipeline = Pipeline(self.engine, publisher=self.sent)  # type: ignore[arg-type]
        self.epoch = self.pipeline.epoch
        self.clock = T0

    def take(self, symbol: str, price: str = "100") -> None:
        self.clock += NS_PER_S // 4
        tick = Tick(symbol, Decimal(price), Decimal(1), self.clock, self.clock, "t")
        assert self.pipeline.ingest(tick, live=False) is None

    def trade(self, symbol: str, price: str = "100") -> dict[str, Any]:
        """One trade, alone in its message (no event loop: the pipeline sends at once)."""
        self.take(symbol, price)
        return self.sent.messages[-1]

    def burst(self, symbol: str, n: int) -> list[dict[str, Any]]:
        """`n` trades in one turn of an event loop: the pipeline's batched messages."""
        before = len(self.sent.messages)

        async def run() -> None:
            for i in range(n):
                self.take(symbol, str(100 + i % 9))
            await asyncio.sleep(0)

        asyncio.run(run())
        return self.sent.messages[before:]

    def snapshot(self, symbol: str) -> dict[str, Any]:
        return self.pipeline.snapshot(symbol)


def subscribe(core: FanOut, market: Market, conn: Conn, ref: ChannelRef, **kw: Any) -> None:
    view, created = core.view(ref.symbol or "")
    if created:
        core.load(view, market.snapshot(view.symbol))
    conn.messages += core.add(conn, ref, ref.name, view=view, **kw)


def flush(core: FanOut) -> None:
    for conn, frame in core.flush():
        conn.take([frame])  # type: ignore[attr-defined]


TRADES = ChannelRef.market(ChannelKind.TRADES, "AAPL")
TICKER = ChannelRef.market(ChannelKind.TICKER, "AAPL")


def test_a_snapshot_then_every_trade_in_order_one_frame_per_flush() -> None:
    market, core, conn = Market(), FanOut(), Conn()
    core.on_tick(market.trade("AAPL"))  # nobody follows AAPL yet: ignored
    subscribe(core, market, conn, TRADES)
    assert conn.messages[0]["type"] == "snapshot" and conn.messages[0]["seq"] == 1
    for price in ("101", "102", "103"):
        core.on_tick(market.trade("AAPL", price))
    out = core.flush()
    assert [c for c, _ in out] == [conn]  # one batched frame
    conn.take([out[0][1]])
    assert [m["seq"] for m in conn.messages[1:]] == [2, 3, 4]
    assert core.flush() == []  # nothing new, nothing sent


def test_state_channels_are_conflated_to_the_latest_value() -> None:
    market, core, conn = Market(), FanOut(), Conn()
    subscribe(core, market, conn, TICKER)
    for price in ("101", "102", "103"):
        core.on_tick(market.trade("AAPL", price))
    flush(core)
    updates = [m for m in conn.messages if m["type"] == "update"]
    assert [(m["seq"], m["data"]["last"]) for m in updates] == [(3, "103.00")]
    assert core.stats["conflated"] == 2


def test_trades_past_the_bound_of_a_flush_are_named_in_a_gap_after_the_ones_sent(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(views, "MAX_TRADES_PER_FLUSH", 3)
    market, core, conn = Market(), FanOut(), Conn()
    subscribe(core, market, conn, TRADES)
    for _ in range(8):
        core.on_tick(market.trade("AAPL"))
    flush(core)
    kinds = [(m["type"], m.get("seq", (m.get("from"), m.get("to")))) for m in conn.messages[1:]]
    assert kinds == [("update", 1), ("update", 2), ("update", 3), ("gap", (4, 8))]
    assert trades_problems(conn.messages, "trades:AAPL") == []


def test_a_late_subscriber_gets_nothing_twice() -> None:
    market, core = Market(), FanOut()
    early, late = Conn(), Conn()
    subscribe(core, market, early, TRADES)
    core.on_tick(market.trade("AAPL"))
    subscribe(core, market, late, TRADES)  # its snapshot already holds seq 1
    core.on_tick(market.trade("AAPL"))
    flush(core)
    assert [m["seq"] for m in early.messages if m["type"] == "update"] == [1, 2]
    assert [m["seq"] for m in late.messages if m["type"] == "update"] == [2]


def test_lost_messages_or_a_new_epoch_reload_and_reset_never_a_silent_gap() -> None:
    market, core, conn = Market(), FanOut(), Conn()
    subscribe(core, market, conn, TRADES)
    core.on_tick(market.trade("AAPL"))
    market.trade("AAPL")  # lost on the broker
    stale = core.on_tick(market.trade("AAPL"))
    assert stale is core.views["AAPL"]  # the driver fetches a snapshot...
    assert core.on_tick(market.trade("AAPL")) is None  # ...and what follows waits for it
    core.load(stale, market.snapshot("AAPL"))
    for c, frame in core.reset_frames(stale):
        c.take([frame])  # type: ignore[attr-defined]
    core.on_tick(market.trade("AAPL"))
    flush(core)
    types = [(m["type"], m["seq"], m.get("reset")) for m in conn.messages]
    # Trade 1 was still pending: the reset snapshot carries it (in its last 256 trades).
    assert types == [("snapshot", 0, False), ("snapshot", 4, True), ("update", 5, None)]


def test_a_slow_connection_is_held_back_then_caught_up_once() -> None:
    market, core, slow = Market(), FanOut(), Conn()
    subscribe(core, market, slow, TICKER)
    slow.queued = HIGH_WATER + 1
    for price in ("101", "102"):
        core.on_tick(market.trade("AAPL", price))
        assert core.flush() == []
    assert core.is_slow(slow) and list(core.held_back()) == [slow]
    slow.queued = 0
    slow.take(core.drained(slow))
    assert [(m["type"], m["data"]["last"]) for m in slow.messages[1:]] == [("update", "102.00")]
    assert not core.is_slow(slow)


def test_resume_from_history_or_a_reset_when_it_is_gone() -> None:
    market, core = Market(), FanOut()
    first = Conn()
    subscribe(core, market, first, TRADES)
    for _ in range(5):
        core.on_tick(market.trade("AAPL"))
    again = Conn()
    subscribe(core, market, again, TRADES, since=3, epoch=market.epoch)
    assert [m["seq"] for m in again.messages] == [4, 5]
    other = Conn()
    subscribe(core, market, other, TRADES, since=3, epoch=market.epoch + 1)  # another run
    assert [(m["type"], m["reset"]) for m in other.messages] == [("snapshot", True)]


def test_the_last_unsubscribe_of_a_symbol_forgets_it() -> None:
    market, core, conn = Market(), FanOut(), Conn()
    subscribe(core, market, conn, TRADES)
    subscribe(core, market, conn, TICKER)
    assert core.remove(conn, TRADES, TRADES.name).release == []
    assert core.remove(conn, TICKER, TICKER.name).release == ["AAPL"]
    assert "AAPL" not in core.views


ops = st.lists(
    st.one_of(
        st.tuples(st.just("trade"), st.sampled_from(SYMBOLS)),
        st.tuples(st.just("burst"), st.sampled_from(SYMBOLS), st.integers(2, 300)),
        st.tuples(st.just("lose"), st.sampled_from(SYMBOLS)),
        st.tuples(st.just("subscribe"), st.integers(0, 4), st.sampled_from(SYMBOLS)),
        st.tuples(st.just("resume"), st.integers(0, 4), st.sampled_from(SYMBOLS)),
        st.tuples(st.just("flush")),
        st.tuples(st.just("stall"), st.integers(0, 4)),
        st.tuples(st.just("drain"), st.integers(0, 4)),
    ),
    max_size=80,
)


@settings(max_examples=600, deadline=None)
@given(ops=ops)
def test_any_interleaving_gives_whole_trades_and_the_latest_state(ops: list[tuple]) -> None:
    """Ticks, lost messages, subscribes, resumes, stalls and flushes in any order: every
    subscriber's `trades:` stream is consecutive or names its gaps, and after a final flush
    its ticker holds the latest value."""
    market, core = Market(), FanOut()
    conns = [Conn() for _ in range(5)]
    followed: dict[int, set[str]] = {i: set() for i in range(5)}
    pending_reload: set[str] = set()

    def deliver_reload(symbol: str) -> None:
        view = core.views.get(symbol)
        if view is not None and view.loading:
            core.load(view, market.snapshot(symbol))
            for c, frame in core.reset_frames(view):
                c.take([frame])  # type: ignore[attr-defined]

    for op in ops:
        if op[0] == "trade":
            stale = core.on_tick(market.trade(op[1]))
            if stale is not None:
                pending_reload.add(stale.symbol)
        elif op[0] == "burst":
            for message in market.burst(op[1], op[2]):
                stale = core.on_tick(message)
                if stale is not None:
                    pending_reload.add(stale.symbol)
        elif op[0] == "lose":
            market.trade(op[1])  # the broker lost it
        elif op[0] in ("subscribe", "resume"):
            i, symbol = op[1], op[2]
            if symbol in followed[i]:
                continue
            for s in list(pending_reload):
                deliver_reload(s)
            pending_reload.clear()
            conn = conns[i]
            seen = [m["seq"] for m in conn.messages if m.get("channel") == f"trades:{symbol}"]
            since = seen[-1] if op[0] == "resume" and seen else None
            for ref in (
                ChannelRef.market(ChannelKind.TRADES, symbol),
                ChannelRef.market(ChannelKind.TICKER, symbol),
            ):
                subscribe(core, market, conn, ref, since=since, epoch=market.epoch)
            followed[i].add(symbol)
        elif op[0] == "flush":
            flush(core)
        elif op[0] == "stall":
            conns[op[1]].queued = HIGH_WATER + 1
        elif op[0] == "drain":
            conns[op[1]].queued = 0
            conns[op[1]].take(core.drained(conns[op[1]]))
    for symbol in SYMBOLS:  # one more trade: a loss at the very end shows too
        stale = core.on_tick(market.trade(symbol))
        if stale is not None:
            pending_reload.add(stale.symbol)
    for s in list(pending_reload):
        deliver_reload(s)
    for conn in conns:
        conn.queued = 0
        conn.take(core.drained(conn))
    flush(core)
    for i, conn in enumerate(conns):
        for symbol in followed[i]:
            assert trades_problems(conn.messages, f"trades:{symbol}") == []
            ticker = [
                m["data"]
                for m in conn.messages
                if m.get("channel") == f"ticker:{symbol}" and m["data"] is not None
            ]
            state = market.engine.states.get(symbol)
            if state is not None and state.quote.last is not None:
                assert ticker and Decimal(ticker[-1]["last"]) == state.quote.last


def test_a_message_partly_covered_by_the_snapshot_sends_only_the_trades_after_it() -> None:
    """A Hub loads a symbol while the pipeline holds trades not yet sent: the snapshot has
    them, so of the message that then carries them, only the later trades go out."""
    market, core, conn = Market(), FanOut(), Conn()

    async def run() -> None:
        for price in ("100", "101", "102"):
            market.take("AAPL", price)
        subscribe(core, market, conn, TRADES)  # the snapshot: seq 3
        for price in ("103", "104"):
            market.take("AAPL", price)
        await asyncio.sleep(0)

    asyncio.run(run())
    (message,) = market.sent.messages
    assert (message["first"], message["seq"]) == (1, 5)
    assert core.on_tick(message) is None
    flush(core)
    updates = [m for m in conn.messages if m["type"] == "update"]
    assert [(m["seq"], m["data"]["price"]) for m in updates] == [(4, "103"), (5, "104")]
    assert trades_problems(conn.messages, TRADES.name) == []


def test_a_burst_past_the_bound_of_a_flush_names_the_rest_in_one_gap() -> None:
    market, core, conn = Market(), FanOut(), Conn()
    subscribe(core, market, conn, TRADES)
    conn.messages.clear()
    for message in market.burst("AAPL", 300):
        core.on_tick(message)
    flush(core)
    updates = [m["seq"] for m in conn.messages if m["type"] == "update"]
    gaps = [(m["from"], m["to"]) for m in conn.messages if m["type"] == "gap"]
    assert updates == list(range(1, views.MAX_TRADES_PER_FLUSH + 1))
    assert gaps == [(views.MAX_TRADES_PER_FLUSH + 1, 300)]
