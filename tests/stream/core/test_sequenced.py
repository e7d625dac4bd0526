"""Sequenced published channels in the fan-out core: messages numbered by the event log
are applied in order whatever order the broker brings them in, duplicates are dropped,
a missing number is filled from the log, and a subscriber catching up on another process
gets every message exactly once."""

from __future__ import annotations

from typing import Any

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.stream.core.test_fanout import Conn
from tickstream.stream.core.fanout import FanOut
from tickstream.stream.core.protocol import ChannelRef, ChannelShape, parse_channel

GROUP = "pub.orders.7"
SHAPES = {"orders": ChannelShape("orders")}


def ref() -> ChannelRef:
    return parse_channel("orders", frozenset(), shapes=SHAPES)


def event(seq: int) -> dict[str, Any]:
    return {
        "type": "stream.publish",
        "channel": "orders",
        "group": GROUP,
        "data": {"n": seq},
        "conflate": False,
        "seq": seq,
    }


def deliver(out: list[tuple[Any, bytes]]) -> None:
    for conn, frame in out:
        conn.take([frame])


def joined(core: FanOut, current: int) -> Conn:
    """A subscriber on a process that joined the group when the log was at `current`."""
    conn = Conn()
    core.starting(GROUP)
    core.add(conn, ref(), GROUP, catching=True)
    deliver(core.start(GROUP, current))
    conn.take([orjson.dumps(core.catch_up(conn, GROUP, current))])
    return conn


def numbers(conn: Conn) -> list[int]:
    return [m["seq"] for m in conn.messages if m["type"] == "update"]


def test_messages_out_of_order_are_applied_in_order_and_duplicates_dropped() -> None:
    core = FanOut()
    conn = joined(core, 0)
    fills = []
    for seq in (1, 3, 2, 2, 4, 1):
        effects = core.on_publish(event(seq))
        fills += effects.fill
        deliver(effects)
    assert numbers(conn) == [1, 2, 3, 4]
    assert core.stats["duplicates"] == 2 and core.stats["reordered"] == 1
    assert fills == ["pub.orders.7"]  # the driver was asked to look (3 came first)


def test_a_missing_number_is_filled_from_the_log_or_named_in_a_gap_when_gone() -> None:
    core = FanOut()
    conn = joined(core, 10)
    deliver(core.on_publish(event(11)))
    deliver(core.on_publish(event(14)))  # 12 and 13 were lost by the broker
    assert numbers(conn) == [11]
    deliver(core.fill(GROUP, [event(12), event(13), event(14)]))
    assert numbers(conn) == [11, 12, 13, 14]
    # The log no longer holds 15 to 17: the subscriber is told, and the group goes on.
    deliver(core.on_publish(event(18)))
    deliver(core.fill(GROUP, []))
    assert numbers(conn) == [11, 12, 13, 14, 18]
    assert {"type": "gap", "channel": "orders", "from": 15, "to": 17} in conn.messages


def test_messages_before_the_starting_number_wait_for_it() -> None:
    core = FanOut()
    conn = Conn()
    core.starting(GROUP)
    core.add(conn, ref(), GROUP, catching=True)
    for seq in (5, 6, 7):  # arrived while the log was read; it said 6
        deliver(core.on_publish(event(seq)))
    deliver(core.start(GROUP, 6))
    assert numbers(conn) == [] and core.in_seq(GROUP) == 7  # 5 and 6: in what it reads
    # It caught up from its snapshot at 6: 7 from memory, once.
    assert core.catch_up(conn, GROUP, 6) == [
        {"type": "update", "channel": "orders", "seq": 7, "data": {"n": 7}}
    ]
    deliver(core.on_publish(event(8)))
    assert numbers(conn) == [8]


def test_a_catching_subscriber_gets_nothing_live_until_it_caught_up() -> None:
    core = FanOut()
    live = joined(core, 0)
    late = Conn()
    core.add(late, ref(), GROUP, catching=True)
    deliver(core.on_publish(event(1)))
    deliver(core.on_publish(event(2)))
    assert numbers(live) == [1, 2] and numbers(late) == []
    # Its snapshot was read at 1: it gets 2 from memory, then 3 live, each once.
    late.take([orjson.dumps(core.catch_up(late, GROUP, 1))])
    deliver(core.on_publish(event(3)))
    assert numbers(late) == [2, 3]


def test_a_resume_the_memory_does_not_reach_is_served_from_the_log_or_refused() -> None:
    core = FanOut()
    joined(core, 50)  # this process joined at 50: it holds nothing older
    for seq in (51, 52):
        deliver(core.on_publish(event(seq)))
    conn = Conn()
    core.add(conn, ref(), GROUP, catching=True)
    assert core.catch_up(conn, GROUP, 48) is None  # 49 and 50 are not in memory
    stored = [event(s) for s in (49, 50, 51)]
    got = core.catch_up(conn, GROUP, 48, stored)
    assert [m["seq"] for m in got or []] == [49, 50, 51, 52]


@settings(max_examples=200, deadline=None)
@given(
    moves=st.lists(st.integers(0, 30), min_size=1, max_size=4),
    order=st.randoms(use_true_random=False),
    lost=st.sets(st.integers(1, 30)),
    dup=st.sets(st.integers(1, 30)),
)
def test_a_client_moving_between_processes_gets_every_message_once_in_order(
    moves: list[int], order: Any, lost: set[int], dup: set[int]
) -> None:
    """Thirty messages; each process's broker loses some, repeats some and reorders
    them; the client moves to a new process at the given points, resuming from the last
    number it applied. With the log filling each process's gaps, it sees 1..30 once."""
    log = [event(s) for s in range(1, 31)]
    seen: list[int] = []
    start = 0
    for stop in [*sorted(moves), 30]:
        stop = max(stop, start)
        core = FanOut()
        conn = joined(core, start)  # a process that joined the group at `start`
        conn.messages.clear()
        since = seen[-1] if seen else 0
        core.add(conn, ref(), GROUP, catching=True)
        conn.take([orjson.dumps(core.catch_up(conn, GROUP, since, log[:start]) or [])])
        arriving = [m for m in log[start:stop] if m["seq"] not in lost]
        arriving += [m for m in log[start:stop] if m["seq"] in dup]
        order.shuffle(arriving)
        for m in arriving:
            deliver(core.on_publish(m))
        deliver(core.fill(GROUP, log[core.in_seq(GROUP) : stop]))  # the driver's read
        got = numbers(conn)
        seen += got
        start = stop
    assert seen == list(range(1, 31))
