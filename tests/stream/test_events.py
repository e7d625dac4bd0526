"""The event log of sequenced channels, on the database: a message is numbered in the
transaction of its change (no number if it rolls back), numbers of a group are dense, the
latest are kept for resume, and a snapshot is read with exactly its number."""

from __future__ import annotations

import threading
from typing import Any

import pytest
from django.db import connection, transaction

from tickstream.stream import events
from tickstream.stream.models import StreamEvent

pytestmark = pytest.mark.django_db(transaction=True)


def message(group: str, n: int) -> dict[str, Any]:
    return {"type": "stream.publish", "channel": "orders", "group": group, "data": {"n": n}}


def test_numbers_are_dense_per_group_and_given_only_to_committed_changes() -> None:
    assert [events.record(message("pub.orders.1", n)) for n in range(3)] == [1, 2, 3]
    assert events.record(message("pub.orders.2", 0)) == 1  # another group counts alone
    with pytest.raises(RuntimeError), transaction.atomic():
        events.record(message("pub.orders.1", 99))
        raise RuntimeError("the change failed")
    assert events.record(message("pub.orders.1", 3)) == 4  # the rolled-back number is reused
    history = events.history("pub.orders.1", 1)
    assert history.complete and history.current == 4
    assert [(m["seq"], m["data"]["n"]) for m in history.events] == [(2, 1), (3, 2), (4, 3)]


def test_the_log_keeps_the_latest_and_says_when_a_resume_reaches_past_them() -> None:
    group = "pub.alerts.1"
    for n in range(events.HISTORY + events.PRUNE_EVERY):
        events.record(message(group, n))
    now = events.HISTORY + events.PRUNE_EVERY
    kept = StreamEvent.objects.filter(group_name=group).count()
    assert events.HISTORY <= kept < events.HISTORY + events.PRUNE_EVERY
    assert events.history(group, now - events.HISTORY).complete
    old = events.history(group, 1)
    assert not old.complete and old.current == now
    assert not events.history(group, now + 5).complete  # a number this log never gave
    assert events.history(group, now) == events.History(now, [], True)


def test_a_snapshot_holds_exactly_the_changes_up_to_its_number() -> None:
    """While a snapshot is read, another transaction commits a change and its event:
    the snapshot's number and data both stay before it."""
    if connection.vendor != "postgresql":
        pytest.skip("PostgreSQL only: SQLite's test database lets no writer in during a read")
    group = "pub.orders.3"
    events.record(message(group, 0))
    changed = threading.Event()
    done = threading.Event()

    def writer() -> None:
        try:
            changed.wait(10)
            events.record(message(group, 1))
        finally:
            connection.close()
            done.set()

    def read() -> int:
        count = StreamEvent.objects.filter(group_name=group).count()
        changed.set()
        done.wait(10)
        assert count == 1
        return StreamEvent.objects.filter(group_name=group).count()

    thread = threading.Thread(target=writer)
    thread.start()
    seq, count = events.snapshot(group, read)
    thread.join(10)
    assert (seq, count) == (1, 1)
    assert events.current(group) == 2
