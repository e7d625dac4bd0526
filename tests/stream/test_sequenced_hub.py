"""Sequenced channels through the consumer and the Hub: a message whose publish the broker
lost reaches its subscribers from the event log, and a resume is served from the log when
the process's memory does not hold it (as on another web process)."""

from __future__ import annotations

import pytest
from channels.db import database_sync_to_async
from django.db import transaction

from tests.factories import user_with_token
from tests.stream.conftest import Market, connect, frames, request
from tickstream.stream import events
from tickstream.stream.core.published import Published
from tickstream.stream.hub import get_hub
from tickstream.stream.publish import _message, publish

pytestmark = pytest.mark.django_db(transaction=True)


def _lost(user: object, n: int) -> int:
    """An `orders` message numbered and logged in its transaction, whose publish the
    broker lost (never sent)."""
    with transaction.atomic():
        return events.record(_message("orders", {"n": n}, user))


async def test_a_message_the_broker_lost_arrives_from_the_log(market: Market) -> None:
    user, key = await database_sync_to_async(user_with_token)()
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    hub = await get_hub()
    hub.audit_s = 0.2
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
    start = got[1]["seq"]
    lost = await database_sync_to_async(_lost)(user, 1)
    assert lost == start + 1
    await hub.audit()  # what the audit loop does every STREAM_AUDIT_S
    got = await frames(ws, expect=lambda m: m.get("type") == "update")  # read from the log
    updates = [m for m in got if m["type"] == "update"]
    assert [(m["seq"], m["data"]) for m in updates] == [(start + 1, {"n": 1})]
    # A later message that reveals a gap is held until the log fills it.
    await database_sync_to_async(_lost)(user, 2)
    await database_sync_to_async(publish)("orders", {"n": 3}, user=user)
    got = await frames(ws, expect=lambda m: m.get("data") == {"n": 3})
    assert [m["data"]["n"] for m in got if m["type"] == "update"] == [2, 3]
    await ws.disconnect()


async def test_a_resume_is_served_from_the_log_when_memory_lacks_it(market: Market) -> None:
    user, key = await database_sync_to_async(user_with_token)()
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
    start = got[1]["seq"]
    await ws.disconnect()
    for n in range(3):  # (sent to the broker on commit, before `publish` returns)
        await database_sync_to_async(publish)("orders", {"n": n}, user=user)
    hub = await get_hub()
    # As if this were another process: nothing in memory.
    hub.core.published = Published(hub.core.stats)
    again = await connect(f"/ws/v1/?token={key}")
    await frames(again)
    resume = {"op": "subscribe", "id": 2, "channels": ["orders"], "since": {"orders": start}}
    got = await request(again, resume)
    assert [(m["type"], m.get("seq")) for m in got] == [
        ("subscribed", None),
        ("update", start + 1),
        ("update", start + 2),
        ("update", start + 3),
    ]
    # A number this log never gave: a reset snapshot.
    await again.disconnect()
    third = await connect(f"/ws/v1/?token={key}")
    await frames(third)
    got = await request(third, {**resume, "since": {"orders": start + 50}})
    assert [(m["type"], m.get("reset"), m.get("seq")) for m in got[1:]] == [
        ("snapshot", True, start + 3)
    ]
    await third.disconnect()


async def test_a_database_failure_answers_unavailable_and_keeps_the_connection(
    market: Market, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    def down(group: str, read: object) -> None:
        raise OperationalError("connection refused")

    user, key = await database_sync_to_async(user_with_token)()
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    monkeypatch.setattr(events, "snapshot", down)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
    assert [(m["type"], m["code"]) for m in got] == [("error", "unavailable")]
    monkeypatch.undo()
    got = await request(ws, {"op": "subscribe", "id": 2, "channels": ["orders"]})
    assert [m["type"] for m in got] == ["subscribed", "snapshot"]
    await ws.disconnect()
