"""Watchlists and alerts over the API: checked fields with codes; the dashboard shows a
signed-in user's first watchlist in its order, and every instrument to anyone else."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tickstream.market.core.instruments import DEFAULT_UNIVERSE

pytestmark = pytest.mark.django_db


@pytest.fixture
def client(instruments: None) -> APIClient:
    api = APIClient(HTTP_HOST="127.0.0.1")
    api.force_authenticate(UserFactory())
    return api


def _code(response: Any) -> str:
    return str(response.json()["error"]["code"])


def test_watchlists_keep_their_order_and_refuse_unknown_symbols(client: APIClient) -> None:
    made = client.post(
        "/api/watchlists/", {"name": "Tech", "symbols": ["nvda", "AAPL"]}, format="json"
    )
    assert made.status_code == 201 and made.json()["symbols"] == ["NVDA", "AAPL"]
    wid = made.json()["id"]
    moved = client.patch(
        f"/api/watchlists/{wid}/", {"symbols": ["AAPL", "MSFT", "NVDA"]}, format="json"
    )
    assert moved.json()["symbols"] == ["AAPL", "MSFT", "NVDA"]
    for body, code in [
        ({"name": "X", "symbols": ["NOPE"]}, "unknown_symbol"),
        ({"name": "X", "symbols": "AAPL"}, "bad_symbols"),
        ({"name": "X", "symbols": None}, "bad_symbols"),  # the fuzzer found null taken
        ({"name": None}, "bad_name"),
        ({"name": "Tech"}, "duplicate_name"),
        ({"name": ""}, "bad_name"),
        ({"name": "a\x00b"}, "bad_text"),  # the one rule for every text at the edge
    ]:
        response = client.post("/api/watchlists/", body, format="json")
        assert response.status_code == 400 and _code(response) == code, body


def test_alerts_are_checked(client: APIClient) -> None:
    made = client.post(
        "/api/alerts/", {"symbol": "AAPL", "condition": "above", "value": "250.5"}, format="json"
    )
    assert made.status_code == 201 and made.json()["armed"] is None
    for body, code in [
        ({"symbol": "AAPL", "condition": "sideways", "value": "1"}, "bad_condition"),
        ({"symbol": "AAPL", "condition": "above", "value": "-1"}, "bad_value"),
        ({"symbol": "AAPL", "condition": "move_up", "value": "5000"}, "bad_value"),
        ({"symbol": "AAPL", "condition": "above", "value": "NaN"}, "bad_value"),
        ({"symbol": "AAPL", "condition": "above", "value": True}, "bad_value"),
        ({"symbol": "ZZZ", "condition": "above", "value": "1"}, "unknown_symbol"),
        # a price cannot fall by all of itself or more: such an alert would never fire
        ({"symbol": "AAPL", "condition": "move_down", "value": "100"}, "bad_value"),
        ({"symbol": "AAPL", "condition": "move_down", "value": "500"}, "bad_value"),
        # a note is kept whole or refused, never cut short; control characters never
        ({"symbol": "AAPL", "condition": "above", "value": "1", "note": "n" * 201}, "bad_note"),
        ({"symbol": "AAPL", "condition": "above", "value": "1", "note": "a\x01b"}, "bad_text"),
    ]:
        response = client.post("/api/alerts/", body, format="json")
        assert response.status_code == 400 and _code(response) == code, body
    aid = made.json()["id"]
    long = client.patch(f"/api/alerts/{aid}/", {"note": "n" * 201}, format="json")
    assert long.status_code == 400 and _code(long) == "bad_note"
    down = {"symbol": "AAPL", "condition": "move_down", "value": "99.5", "note": "n" * 200}
    kept = client.post("/api/alerts/", down, format="json")
    assert kept.status_code == 201 and kept.json()["note"] == "n" * 200
    paused = client.patch(f"/api/alerts/{aid}/", {"active": False}, format="json")
    assert paused.json()["active"] is False
    assert (
        _code(client.patch(f"/api/alerts/{aid}/", {"active": "no"}, format="json")) == "bad_active"
    )


def test_the_dashboard_lists_the_users_watchlist(instruments: None) -> None:
    from tickstream.alerts.services import watchlist_create

    user = UserFactory()
    watchlist_create(owner=user, name="Mine", symbols=["TSLA", "BTC-USD"])
    browser = Client()
    browser.force_login(user)
    page = browser.get("/")
    listed = page.context["instruments"]
    assert [i["symbol"] for i in listed[:2]] == ["TSLA", "BTC-USD"]
    assert len(listed) == len(DEFAULT_UNIVERSE) and all(
        i.get("extra") for i in listed[2:]
    )  # found by search
    assert (
        b'data-symbol="AAPL" tabindex="0" aria-selected="false" data-extra hidden' in page.content
    )
    assert page.context["default_symbol"] == "TSLA"
    anonymous = Client().get("/")
    assert len(anonymous.context["instruments"]) == len(DEFAULT_UNIVERSE)


def test_a_move_alerts_level_is_told_at_the_instruments_precision(instruments: None) -> None:
    """A move alert's level comes from the session open (`2720.294946`); the message
    people read says it at the price step, as the price is. A level the user typed stays."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from tickstream.alerts.models import AlertFiring
    from tickstream.alerts.services import alert_create
    from tickstream.alerts.shapes import alert_message

    owner = UserFactory()
    move = alert_create(owner=owner, symbol="AAPL", condition="move_up", value="3.5")
    firing = AlertFiring(
        alert=move,
        level=Decimal("2720.294946"),
        price=Decimal("2720.3"),
        fired_at=datetime.now(UTC),
    )
    assert alert_message(move, firing)["level"] == "2720.29"
    fixed = alert_create(owner=owner, symbol="AAPL", condition="above", value="250.125")
    firing = AlertFiring(
        alert=fixed, level=Decimal("250.125"), price=Decimal("250.13"), fired_at=datetime.now(UTC)
    )
    assert alert_message(fixed, firing)["level"] == "250.125"
