"""Alerts evaluated where ticks are processed: the pipeline's hook fires each alert once per
crossing, stores the firing in its history and pushes it on the owner's `alerts` channel;
edits reach the evaluator without a restart."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from channels.db import database_sync_to_async

from tests.factories import user_with_token
from tests.stream.conftest import Market, connect, frames, request, until
from tickstream.alerts.hook import AlertHook
from tickstream.alerts.models import Alert, AlertFiring
from tickstream.alerts.services import alert_create, alert_delete, alert_update

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def hook(market: Market, settings: object) -> AsyncIterator[AlertHook]:
    settings.ALERTS_REFRESH_S = 0.05  # type: ignore[attr-defined]
    evaluator = AlertHook()
    await evaluator.start()
    market.pipeline.hooks.append(evaluator)
    yield evaluator
    await evaluator.stop()


def _count(alert_id: int) -> int:
    return AlertFiring.objects.filter(alert_id=alert_id).count()


async def test_an_alert_fires_once_per_crossing_and_reaches_its_owner(
    market: Market, hook: AlertHook
) -> None:
    market.trade("AAPL", "228")
    user, key = await database_sync_to_async(user_with_token)()
    _, other_key = await database_sync_to_async(user_with_token)()
    alert = await database_sync_to_async(alert_create)(
        owner=user, symbol="AAPL", condition="above", value="230", note="breakout"
    )
    await until(lambda: alert.pk in hook.book.alerts)
    ws = await connect(f"/ws/v1/?token={key}")
    other = await connect(f"/ws/v1/?token={other_key}")
    for conn in (ws, other):
        await frames(conn)
        await request(conn, {"op": "subscribe", "id": 1, "channels": ["alerts"]})

    for price in ("229", "230.5", "231", "232"):  # one crossing
        market.trade("AAPL", price)
    await until(lambda: hook.fired == 1)
    got = [
        m
        for m in await frames(ws, expect=lambda m: m.get("type") == "update")
        if m["type"] == "update"
    ]
    assert len(got) == 1
    event = got[0]["data"]
    assert event["event"] == "alert_triggered" and event["alert"] == alert.pk
    assert event["price"] == "230.5" and event["level"] == "230" and event["note"] == "breakout"
    assert [m for m in await frames(other) if m["type"] == "update"] == []

    for price in ("229.9", "230.1"):  # back below re-arms, up again fires again
        market.trade("AAPL", price)
    await until(lambda: hook.fired == 2)
    assert await database_sync_to_async(_count)(alert.pk) == 2
    stored = await Alert.objects.aget(pk=alert.pk)
    assert stored.fired_count == 2 and stored.armed is False
    await ws.disconnect()
    await other.disconnect()


async def test_an_edit_reaches_the_evaluator_and_a_paused_alert_is_silent(
    market: Market, hook: AlertHook
) -> None:
    market.trade("MSFT", "400")
    user, _ = await database_sync_to_async(user_with_token)()
    alert = await database_sync_to_async(alert_create)(
        owner=user, symbol="MSFT", condition="below", value="390"
    )
    await until(lambda: alert.pk in hook.book.alerts)
    await database_sync_to_async(alert_update)(alert=alert, active=False)
    await until(lambda: alert.pk not in hook.book.alerts)
    market.trade("MSFT", "380")
    await database_sync_to_async(alert_update)(alert=alert, active=True, value="370")
    await until(lambda: alert.pk in hook.book.alerts)
    market.trade("MSFT", "375")
    market.trade("MSFT", "369")
    await until(lambda: hook.fired == 1)
    firing = await AlertFiring.objects.aget(alert_id=alert.pk)
    assert str(firing.price) == "369.0000000000" and str(firing.level) == "370.0000000000"


async def test_an_alert_crossed_50_ms_after_it_is_made_fires(
    market: Market, settings: object
) -> None:
    """The evaluator is told of a new alert on commit (its poll is a minute away here), and
    places it against the price it last saw: a crossing 50 ms later fires it. Before, the
    alert reached it up to ALERTS_REFRESH_S late and the crossing was lost; an alert on a
    symbol no other alert watched was even placed against the crossing price, disarmed."""
    settings.ALERTS_REFRESH_S = 60  # type: ignore[attr-defined]
    evaluator = AlertHook()
    await evaluator.start()
    market.pipeline.hooks.append(evaluator)
    try:
        market.trade("NVDA", "140.00")
        user, _ = await database_sync_to_async(user_with_token)()
        up = await database_sync_to_async(alert_create)(
            owner=user, symbol="NVDA", condition="above", value="140.05"
        )
        down = await database_sync_to_async(alert_create)(
            owner=user, symbol="NVDA", condition="below", value="139.80"
        )
        await asyncio.sleep(0.05)
        market.trade("NVDA", "140.10")
        await until(lambda: evaluator.fired == 1, timeout=2.0)
        market.trade("NVDA", "139.75")
        await until(lambda: evaluator.fired == 2, timeout=2.0)
        assert await database_sync_to_async(_count)(up.pk) == 1
        assert await database_sync_to_async(_count)(down.pk) == 1
    finally:
        await evaluator.stop()


async def test_a_deleted_alert_leaves_the_book_on_commit(market: Market, settings: object) -> None:
    settings.ALERTS_REFRESH_S = 60  # type: ignore[attr-defined]
    evaluator = AlertHook()
    await evaluator.start()
    try:
        user, _ = await database_sync_to_async(user_with_token)()
        alert = await database_sync_to_async(alert_create)(
            owner=user, symbol="NVDA", condition="above", value="150"
        )
        await until(lambda: alert.pk in evaluator.book.alerts, timeout=2.0)
        await database_sync_to_async(alert_delete)(alert=alert)
        await until(lambda: alert.pk not in evaluator.book.alerts, timeout=2.0)
    finally:
        await evaluator.stop()
