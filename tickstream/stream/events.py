"""The event log: where a sequenced channel's messages get their `seq`, and where any web
process finds what a resuming client missed.

`record` runs inside the transaction that made the change (`publish` calls it), so a
message has a number if and only if its change was committed, and numbers of a group are
committed in order (the counter's row stays locked until the commit). Every process reads
the same numbers from here: a client that reconnects to another web process resumes with
`since` and misses nothing, or gets a fresh snapshot marked `reset` when the log no longer
holds what it missed (it keeps the latest `HISTORY` of a group).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from django.db import transaction

from tickstream.stream.core.published import PUBLISHED_HISTORY
from tickstream.stream.models import StreamEvent, StreamSequence

HISTORY = PUBLISHED_HISTORY  # events kept per group
PRUNE_EVERY = 50  # a group's old events are deleted every this many events

T = TypeVar("T")


def record(message: dict[str, Any]) -> int:
    """Number a message of its group and keep it; returns its `seq`. Call it in the
    transaction of the change it tells about."""
    group = message["group"]
    with transaction.atomic():
        seq = _next(group)
        StreamEvent.objects.create(group_name=group, seq=seq, message={**message, "seq": seq})
        if seq % PRUNE_EVERY == 0:
            StreamEvent.objects.filter(group_name=group, seq__lte=seq - HISTORY).delete()
    return seq


def _next(group: str) -> int:
    """The group's next number, in one statement on SQLite and PostgreSQL alike."""
    table = StreamSequence._meta.db_table  # the model's own name, not input
    sql = (
        f"INSERT INTO {table} (group_name, seq) VALUES (%s, 1) "  # noqa: S608
        f"ON CONFLICT (group_name) DO UPDATE SET seq = {table}.seq + 1 RETURNING seq"
    )
    with transaction.get_connection().cursor() as cursor:
        cursor.execute(sql, [group])
        row = cursor.fetchone()
    return int(row[0])


def current(group: str) -> int:
    """The last number given out on a group (0 before any)."""
    row = StreamSequence.objects.filter(group_name=group).values_list("seq", flat=True).first()
    return int(row or 0)


def currents(groups: list[str]) -> dict[str, int]:
    """The last number of each of these groups (one query; missing ones are 0)."""
    found = dict(
        StreamSequence.objects.filter(group_name__in=groups).values_list("group_name", "seq")
    )
    return {g: int(found.get(g, 0)) for g in groups}


@dataclass(frozen=True, slots=True)
class History:
    """What the log holds of a group past a point: `events` in order, up to `current`;
    `complete` is False when it no longer holds them all (a resume needs a snapshot)."""

    current: int
    events: list[dict[str, Any]]
    complete: bool


def history(group: str, after: int | None) -> History:
    """The group's number now and, past `after`, its events."""
    with consistent_read():
        now = current(group)
        if after is None or after >= now:
            return History(now, [], after is None or after == now)
        events = list(
            StreamEvent.objects.filter(group_name=group, seq__gt=after)
            .order_by("seq")
            .values_list("message", flat=True)[: HISTORY + 1]
        )
    complete = bool(events) and events[0]["seq"] == after + 1 and events[-1]["seq"] == now
    return History(now, events, complete)


def snapshot(group: str, read: Callable[[], T]) -> tuple[int, T]:
    """A group's number and the data `read` returns, from one consistent view of the
    database: the data holds exactly the changes of the events up to that number."""
    with consistent_read():
        return current(group), read()


@contextlib.contextmanager
def consistent_read() -> Iterator[None]:
    """A transaction that sees one state of the database throughout: SQLite's do
    already; PostgreSQL's is raised to REPEATABLE READ (possible only as the first
    statement of an outermost transaction; a nested one keeps its outer's)."""
    connection = transaction.get_connection()
    outermost = not connection.in_atomic_block
    with transaction.atomic():
        if outermost and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
        yield
