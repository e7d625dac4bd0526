"""The per-user caps hold when one user creates in parallel (as from two web processes):
each creation counts under a lock on the user's row. On PostgreSQL (make test): SQLite's
writers take the database in turn (IMMEDIATE transactions), and its test database is one
in-memory file that threads cannot share."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from tests.factories import UserFactory
from tickstream.alerts import services
from tickstream.alerts.models import Alert, Watchlist
from tickstream.alerts.services import AlertsError

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
THREADS = 8  # connections of their own, well below the shared server's bound


def _race(create: Callable[[int], None], tries: int) -> list[str]:
    """`tries` creations over THREADS threads, all released at once; the refusals' codes."""
    gate = threading.Barrier(THREADS)
    refused: list[str] = []
    lock = threading.Lock()

    def work(start: int) -> None:
        try:
            gate.wait()
            for n in range(start, tries, THREADS):
                try:
                    create(n)
                except AlertsError as exc:
                    with lock:
                        refused.append(exc.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(k,)) for k in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return refused


def test_parallel_alerts_stop_at_the_cap(instruments: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "MAX_ALERTS", 6)
    owner = UserFactory()

    def create(n: int) -> None:
        services.alert_create(owner=owner, symbol="AAPL", condition="above", value=str(100 + n))

    refused = _race(create, 32)
    assert Alert.objects.filter(owner=owner).count() == 6
    assert refused == ["too_many"] * 26


def test_parallel_watchlists_stop_at_the_cap(instruments: None, monkeypatch: Any) -> None:
    monkeypatch.setattr(services, "MAX_WATCHLISTS", 4)
    owner = UserFactory()

    def create(n: int) -> None:
        services.watchlist_create(owner=owner, name=f"list {n}", symbols=["AAPL"])

    refused = _race(create, 24)
    assert Watchlist.objects.filter(owner=owner).count() == 4
    assert refused == ["too_many"] * 20
