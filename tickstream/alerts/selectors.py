"""Reads of watchlists and alerts, always through their owner."""

from __future__ import annotations

from typing import Any

from django.db.models import Count, Max, QuerySet

from tickstream.alerts.core.book import Alert as BookAlert
from tickstream.alerts.core.book import Condition
from tickstream.alerts.models import Alert, AlertFiring, Watchlist


def _signed_in(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False))


def watchlist_list(*, user: Any) -> QuerySet[Watchlist]:
    if not _signed_in(user):
        return Watchlist.objects.none()
    return Watchlist.objects.filter(owner=user).prefetch_related("items__instrument")


def watchlist_get(*, user: Any, watchlist_id: Any) -> Watchlist:
    return watchlist_list(user=user).get(pk=watchlist_id)


def watchlist_symbols(watchlist: Watchlist) -> list[str]:
    return [item.instrument.symbol for item in watchlist.items.all()]


def first_watchlist_symbols(*, user: Any) -> list[str] | None:
    """The symbols of the user's first watchlist (None: no watchlist, or signed out)."""
    first = watchlist_list(user=user).first()
    return None if first is None else watchlist_symbols(first)


def alert_list(*, user: Any) -> QuerySet[Alert]:
    if not _signed_in(user):
        return Alert.objects.none()
    return Alert.objects.filter(owner=user).select_related("instrument")


def alert_get(*, user: Any, alert_id: Any) -> Alert:
    return alert_list(user=user).get(pk=alert_id)


def alert_firings(alert: Alert, *, limit: int = 50) -> list[AlertFiring]:
    return list(alert.firings.all()[:limit])


def book_alert(row: Alert) -> BookAlert:
    """A stored alert as the evaluator's book holds it."""
    return BookAlert(
        row.pk, row.instrument.symbol, Condition(row.condition), row.value, armed=row.armed
    )


def active_alerts() -> list[tuple[BookAlert, Any]]:
    """Every active alert with the time of its last edit (the evaluator's book)."""
    rows = Alert.objects.filter(active=True, instrument__active=True).select_related("instrument")
    return [(book_alert(r), r.updated_at) for r in rows]


def active_alert(alert_id: int) -> tuple[BookAlert, Any] | None:
    """One alert as `active_alerts` has it; None if it is paused, deleted or its
    instrument inactive."""
    row = (
        Alert.objects.filter(pk=alert_id, active=True, instrument__active=True)
        .select_related("instrument")
        .first()
    )
    return None if row is None else (book_alert(row), row.updated_at)


def alerts_version() -> tuple[Any, int]:
    """Changes whenever an alert is created, edited or deleted (what the evaluator polls)."""
    found = Alert.objects.aggregate(latest=Max("updated_at"), count=Count("id"))
    return found["latest"], found["count"]
