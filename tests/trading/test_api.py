"""The paper venue's REST API: every refusal has its code and changes nothing; funds are
reserved exactly at placement and released on cancel; a client_order_id places once."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from tests.factories import stored_quote
from tests.trading.conftest import balances, trading_client
from tickstream.trading.models import Balance, EngineBeat, Order, Transfer

pytestmark = pytest.mark.django_db
D = Decimal
LIMIT = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "10", "price": "200"}


@pytest.fixture
def trader(instruments: None) -> tuple[APIClient, Any]:
    return trading_client("10000")


def _place(api: APIClient, **fields: Any) -> Any:
    return api.post("/api/trading/orders/", {**LIMIT, **fields}, format="json")


def _error(response: Any) -> str:
    return str(response.json()["error"]["code"])


def _state() -> tuple[Any, ...]:
    return (
        list(Order.objects.values_list("id", "status", "held", "filled")),
        list(Balance.objects.values_list("currency", "available", "reserved")),
    )


def test_a_limit_order_reserves_its_cost_and_the_highest_fee(
    trader: tuple[APIClient, Any],
) -> None:
    api, account = trader
    response = _place(api)
    assert response.status_code == 201, response.json()
    order = response.json()
    assert order["status"] == "new" and order["reserved"] == "2004"  # 2,000 + 20 bps
    assert order["symbol"] == "AAPL" and order["time_in_force"] == "GTC"
    assert balances(account) == {"USD": (D("7996"), D("2004"))}
    got = api.get("/api/trading/account/").json()
    assert got["balances"] == [{"currency": "USD", "available": "7996", "reserved": "2004"}]
    assert got["open_orders"] == 1 and got["engine"] == "running"
    assert [o["id"] for o in api.get("/api/trading/orders/?status=open").json()] == [order["id"]]
    assert api.get("/api/trading/orders/?status=filled").json() == []

    cancelled = api.delete(f"/api/trading/orders/{order['id']}/")
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    assert balances(account) == {"USD": (D("10000"), D(0))}
    again = api.delete(f"/api/trading/orders/{order['id']}/")
    assert again.status_code == 409 and again.json()["error"]["code"] == "not_cancellable"


@pytest.mark.parametrize(
    ("fields", "status", "code"),
    [
        ({"symbol": "NOPE"}, 400, "unknown_instrument"),
        ({"quantity": "10.5"}, 400, "bad_step"),  # stocks trade in whole shares
        ({"price": "200.001"}, 400, "bad_step"),
        ({"quantity": "0"}, 400, "out_of_range"),
        ({"quantity": "-1"}, 400, "out_of_range"),
        ({"quantity": "1e400"}, 400, "out_of_range"),
        ({"quantity": "NaN"}, 400, "bad_number"),
        ({"quantity": 1.5}, 400, "bad_step"),  # a JSON number is read exactly, as a decimal
        ({"quantity": True}, 400, "bad_number"),
        ({"quantity": "100"}, 400, "insufficient_funds"),  # 20,000 > 10,000
        ({"side": "short"}, 400, "bad_side"),
        ({"type": "iceberg"}, 400, "bad_type"),
        ({"time_in_force": "GTD"}, 400, "bad_time_in_force"),
        ({"type": "market", "price": "200"}, 400, "bad_price"),
        ({"type": "stop"}, 400, "bad_price"),  # no stop price
        ({"price": None}, 400, "bad_price"),
        ({"client_order_id": "x" * 65}, 400, "bad_client_order_id"),
        ({"stop_prize": "1"}, 400, "unexpected"),
        ({"type": "market", "price": None}, 400, "no_price"),  # nothing traded yet
    ],
)
def test_a_bad_order_is_refused_with_its_code_and_changes_nothing(
    trader: tuple[APIClient, Any], fields: dict[str, Any], status: int, code: str
) -> None:
    api, _ = trader
    before = _state()
    response = _place(api, **fields)
    assert response.status_code == status, response.json()
    assert response.json()["error"]["code"] == code
    assert _state() == before


def test_a_body_that_is_not_an_object_is_refused(trader: tuple[APIClient, Any]) -> None:
    api, _ = trader
    response = api.post("/api/trading/orders/", [LIMIT], format="json")
    assert response.status_code == 400 and response.json()["error"]["code"] == "malformed_body"


def test_crypto_quantities_follow_the_instrument_step(trader: tuple[APIClient, Any]) -> None:
    api, account = trader
    ok = _place(api, symbol="BTC-USD", quantity="0.0001", price="50000")
    assert ok.status_code == 201, ok.json()
    off = _place(api, symbol="BTC-USD", quantity="0.000000001", price="50000")
    assert off.status_code == 400 and off.json()["error"]["code"] in ("bad_step", "below_minimum")


def test_the_same_client_order_id_places_once(trader: tuple[APIClient, Any]) -> None:
    api, account = trader
    first = _place(api, client_order_id="my-1")
    again = _place(api, client_order_id="my-1", quantity="1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"] and again.json()["quantity"] == "10"
    assert Order.objects.count() == 1
    assert balances(account) == {"USD": (D("7996"), D("2004"))}


def test_without_a_running_engine_orders_are_refused(trader: tuple[APIClient, Any]) -> None:
    api, _ = trader
    EngineBeat.objects.update(seen_at=timezone.now() - timezone.timedelta(seconds=60))
    response = _place(api)
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "trading_unavailable"
    assert Order.objects.count() == 0 and api.get("/api/trading/account/").json()["engine"] == (
        "unavailable"
    )


def test_orders_per_second_and_open_orders_are_limited(
    trader: tuple[APIClient, Any], settings: Any
) -> None:
    api, _ = trader
    settings.TRADING_ORDERS_PER_SECOND = 3
    codes = [_place(api, quantity="1").status_code for _ in range(4)]
    assert codes == [201, 201, 201, 429]
    assert _place(api, quantity="1").json()["error"]["code"] == "rate_limited"
    settings.TRADING_ORDERS_PER_SECOND = 100
    settings.TRADING_MAX_OPEN_ORDERS = 3
    refused = _place(api, quantity="1")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "too_many_open_orders"
    assert Order.objects.count() == 3


def test_an_inactive_instrument_is_a_closed_market(trader: tuple[APIClient, Any]) -> None:
    from tickstream.market.models import Instrument

    api, _ = trader
    Instrument.objects.filter(symbol="AAPL").update(active=False)
    response = _place(api)
    assert response.status_code == 409 and response.json()["error"]["code"] == "market_closed"


def test_a_market_buy_reserves_at_the_last_price_plus_the_collar(
    trader: tuple[APIClient, Any],
) -> None:
    api, account = trader
    stored_quote("AAPL", "200")
    response = _place(api, type="market", price=None, quantity="10")
    assert response.status_code == 201, response.json()
    # 10 x 200 x 1.05 (collar) x 1.002 (fee) = 2104.2
    assert response.json()["reserved"] == "2104.2"
    assert balances(account)["USD"] == (D("7895.8"), D("2104.2"))


def test_a_sell_reserves_the_asset_and_needs_it(trader: tuple[APIClient, Any]) -> None:
    api, _ = trader
    response = _place(api, side="sell")
    assert response.status_code == 400 and response.json()["error"]["code"] == (
        "insufficient_funds"
    )
    assert response.json()["error"]["message"] == (
        "This order reserves 10 AAPL; 0 AAPL is available."
    )


def test_deposits_and_withdrawals(trader: tuple[APIClient, Any]) -> None:
    api, account = trader
    assert api.post("/api/trading/deposits/", {"amount": "2500.50"}, format="json").json() == {
        "currency": "USD", "available": "12500.5", "reserved": "0"
    }  # fmt: skip
    out = api.post("/api/trading/withdrawals/", {"amount": "12500.51"}, format="json")
    assert out.status_code == 400 and out.json()["error"]["code"] == "insufficient_funds"
    said = out.json()["error"]["message"]
    assert said == "12,500.51 USD is more than the 12,500.50 USD available", said
    assert api.post(
        "/api/trading/withdrawals/", {"amount": "500.5"}, format="json"
    ).status_code == (201)
    for body, code in [
        ({"amount": "-5"}, "out_of_range"),
        ({"amount": "abc"}, "bad_number"),
        ({}, "required"),
        ({"amount": "5", "currency": "EUR"}, "bad_currency"),
    ]:
        response = api.post("/api/trading/deposits/", body, format="json")
        assert response.status_code == 400 and response.json()["error"]["code"] == code
    assert balances(account) == {"USD": (D("12000"), D(0))}
    assert list(Transfer.objects.values_list("amount", flat=True)) == [
        D("10000"), D("2500.5"), D("-500.5")
    ]  # fmt: skip


def test_linking_a_portfolio_takes_only_ones_own(trader: tuple[APIClient, Any]) -> None:
    from tests.factories import UserFactory
    from tickstream.portfolio.services import portfolio_create

    api, account = trader
    mine = portfolio_create(owner=account.owner, name="Paper")
    theirs = portfolio_create(owner=UserFactory(), name="Theirs")
    response = api.patch("/api/trading/account/", {"portfolio": theirs.pk}, format="json")
    assert response.status_code == 404
    response = api.patch("/api/trading/account/", {"portfolio": mine.pk}, format="json")
    assert response.status_code == 200 and response.json()["portfolio"] == mine.pk
    response = api.patch("/api/trading/account/", {"portfolio": None}, format="json")
    assert response.json()["portfolio"] is None


def test_an_order_whose_value_is_past_every_balance_is_insufficient_funds(
    trader: tuple[APIClient, Any],
) -> None:
    """Each field within its bound, their product past what a decimal context of 28
    digits holds: it was a 500."""
    api, _ = trader
    before = _state()
    huge = _place(api, quantity="99999999999999", price="999999999999.99")
    assert huge.status_code == 400 and _error(huge) == "insufficient_funds"
    # Said for people: money grouped and to the cent (needed rounded up, available down).
    message = huge.json()["error"]["message"]
    assert message.startswith("This order reserves 100,")
    assert message.endswith(" USD; 10,000.00 USD is available."), message
    assert _state() == before


def test_a_new_account_starts_with_the_paper_cash_of_the_setting(
    instruments: None, settings: Any
) -> None:
    from rest_framework.test import APIClient

    from tests.factories import UserFactory

    settings.TRADING_START_BALANCE = D("25000")
    api = APIClient()
    api.force_authenticate(UserFactory())
    account = api.get("/api/trading/account/").json()
    assert [b for b in account["balances"] if b["currency"] == "USD"][0]["available"] == "25000"
    again = api.get("/api/trading/account/").json()  # once, not per visit
    assert [b for b in again["balances"] if b["currency"] == "USD"][0]["available"] == "25000"


def test_a_reset_starts_the_account_over(trader: tuple[APIClient, Any]) -> None:
    """Open orders cancelled and their funds released, the cash set to the amount, assets
    to zero, a linked portfolio unlinked; the balances still add up to transfers."""
    from tickstream.portfolio.services import portfolio_create

    api, account = trader
    assert _place(api).status_code == 201  # 10 x 200 reserved
    portfolio = portfolio_create(owner=account.owner, name="Linked")
    api.patch("/api/trading/account/", {"portfolio": portfolio.pk}, format="json")
    reset = api.post("/api/trading/account/reset/", {"amount": "50000"}, format="json")
    assert reset.status_code == 200, reset.json()
    assert reset.json()["portfolio"] is None
    assert balances(account) == {"USD": (D("50000"), D(0))}
    assert not Order.objects.filter(account=account, status__in=["new", "partially_filled"])
    total = sum(Transfer.objects.filter(account=account).values_list("amount", flat=True))
    assert total == D("50000")
    bad = api.post("/api/trading/account/reset/", {"amount": "-1"}, format="json")
    assert bad.status_code == 400 and _error(bad) == "out_of_range"
