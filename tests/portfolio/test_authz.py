"""Authorization of every owner-only endpoint: another user's object is a 404 (never a
403 that would confirm it exists), anonymous requests are refused, and nothing changes."""

from __future__ import annotations

from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.portfolio.conftest import add
from tickstream.alerts.models import Alert, Watchlist
from tickstream.alerts.services import alert_create, watchlist_create
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.portfolio.services import portfolio_create
from tickstream.trading.models import Balance, Order

pytestmark = pytest.mark.django_db

TX = {"kind": "buy", "symbol": "AAPL", "quantity": "1", "price": "1", "time": "2025-01-02"}


@pytest.fixture
def owned(instruments: None) -> dict[str, Any]:
    owner = UserFactory()
    portfolio = portfolio_create(owner=owner, name="Private")
    tx = add(portfolio, **TX)
    watchlist = watchlist_create(owner=owner, name="Mine", symbols=["AAPL"])
    alert = alert_create(owner=owner, symbol="AAPL", condition="above", value="300")
    from tests.trading.conftest import beat, funded, place

    beat()
    trader, _, _ = funded()
    order = place(trader, symbol="AAPL", side="buy", type="limit", quantity="1", price="100")
    return {"p": portfolio.pk, "t": tx.pk, "w": watchlist.pk, "a": alert.pk, "o": order.pk}


def _requests(ids: dict[str, Any]) -> list[tuple[str, str, Any]]:
    p, t, w, a = ids["p"], ids["t"], ids["w"], ids["a"]
    base = f"/api/portfolios/{p}"
    return [
        ("get", f"{base}/", None),
        ("patch", f"{base}/", {"name": "Mine now"}),
        ("delete", f"{base}/", None),
        ("get", f"{base}/transactions/", None),
        ("post", f"{base}/transactions/", TX),
        ("get", f"{base}/transactions/{t}/", None),
        ("put", f"{base}/transactions/{t}/", TX),
        ("delete", f"{base}/transactions/{t}/", None),
        ("get", f"{base}/valuation/", None),
        ("get", f"{base}/returns/?period=ALL", None),
        ("get", f"{base}/history/", None),
        ("post", f"{base}/import/", {"csv": "time,kind,symbol,quantity,price,fee,note\n"}),
        ("get", f"{base}/export/", None),
        ("get", f"/api/watchlists/{w}/", None),
        ("patch", f"/api/watchlists/{w}/", {"name": "x"}),
        ("delete", f"/api/watchlists/{w}/", None),
        ("get", f"/api/alerts/{a}/", None),
        ("patch", f"/api/alerts/{a}/", {"active": False}),
        ("delete", f"/api/alerts/{a}/", None),
        ("get", f"/api/trading/orders/{ids['o']}/", None),
        ("delete", f"/api/trading/orders/{ids['o']}/", None),
    ]


def _state() -> tuple[Any, ...]:
    return (
        list(Portfolio.objects.values_list("id", "name", "method")),
        list(Transaction.objects.values_list("id", "quantity", "price")),
        list(Watchlist.objects.values_list("id", "name")),
        list(Alert.objects.values_list("id", "active", "value")),
        list(Order.objects.values_list("id", "status", "held")),
        list(Balance.objects.values_list("id", "available", "reserved")),
    )


def test_another_user_gets_404_on_every_endpoint_and_changes_nothing(
    owned: dict[str, Any],
) -> None:
    before = _state()
    intruder = APIClient(HTTP_HOST="127.0.0.1")
    intruder.force_authenticate(UserFactory())
    for method, url, body in _requests(owned):
        response = getattr(intruder, method)(url, body, format="json")
        assert response.status_code == 404, (method, url, response.status_code)
        assert response.json()["error"]["code"] == "not_found"
    for url in ("/api/portfolios/", "/api/watchlists/", "/api/alerts/"):
        assert intruder.get(url).json() == []  # lists hold only one's own
    assert intruder.get("/api/trading/orders/").json() == []
    assert intruder.get("/api/trading/fills/").json() == []
    account = intruder.get("/api/trading/account/").json()
    assert account["balances"] == [{"currency": "USD", "available": "0", "reserved": "0"}]
    assert _state() == before


def test_anonymous_requests_are_refused_everywhere(owned: dict[str, Any]) -> None:
    before = _state()
    anonymous = APIClient(HTTP_HOST="127.0.0.1")
    listing = [
        ("get", "/api/portfolios/", None),
        ("post", "/api/portfolios/", {"name": "x"}),
        ("get", "/api/watchlists/", None),
        ("post", "/api/watchlists/", {"name": "x", "symbols": []}),
        ("get", "/api/alerts/", None),
        ("post", "/api/alerts/", {"symbol": "AAPL", "condition": "above", "value": "1"}),
        ("get", "/api/trading/account/", None),
        ("patch", "/api/trading/account/", {"portfolio": None}),
        ("post", "/api/trading/deposits/", {"amount": "1"}),
        ("post", "/api/trading/withdrawals/", {"amount": "1"}),
        ("get", "/api/trading/orders/", None),
        (
            "post",
            "/api/trading/orders/",
            {"symbol": "AAPL", "side": "buy", "type": "market", "quantity": "1"},
        ),
        ("get", "/api/trading/fills/", None),
    ]
    for method, url, body in [*_requests(owned), *listing]:
        response = getattr(anonymous, method)(url, body, format="json")
        assert response.status_code in (401, 403), (method, url)
        assert response.json()["error"]["code"] == "not_authenticated"
    assert _state() == before


def test_pages_of_another_users_portfolio_are_404(owned: dict[str, Any]) -> None:
    from django.test import Client

    browser = Client(HTTP_HOST="127.0.0.1")
    assert browser.get(f"/portfolio/{owned['p']}/").status_code == 302  # to the login page
    browser.force_login(UserFactory())
    assert browser.get(f"/portfolio/{owned['p']}/").status_code == 404
    assert browser.get("/portfolio/").status_code == 200
