"""Every money, price and quantity column keeps every digit its declaration allows, on
SQLite as on PostgreSQL (this file runs on both): a hypothesis round trip through each
column, and what a user saw go wrong when SQLite kept 15 significant digits."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Context, Decimal
from typing import Any

import pytest
from django.apps import apps
from django.db import DataError, connection, transaction
from hypothesis import given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.trading.conftest import balances, funded, trading_client
from tickstream.alerts.models import Alert, AlertFiring
from tickstream.fields import ExactDecimalField, compare_decimal_texts
from tickstream.market.models import Candle, Cryptocurrency, Instrument, Quote, ReferenceRate, Trade
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.strategy.models import StrategyRun
from tickstream.trading.models import Balance, Fill, Order, TradingAccount, Transfer

pytestmark = pytest.mark.django_db
D = Decimal
NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
# Columns that a check constraint keeps at or above zero.
NOT_NEGATIVE = {
    (Balance, "available"),
    (Balance, "reserved"),
    (Order, "filled"),
    (Order, "quantity"),  # at or above `filled`
    (Order, "held"),
}


def exact_columns() -> list[tuple[type[Any], ExactDecimalField]]:
    found = [
        (model, f)
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if isinstance(f, ExactDecimalField)
    ]
    return sorted(found, key=lambda mf: (mf[0].__name__, mf[1].name))


def test_every_decimal_column_of_every_app_is_exact() -> None:
    from django.db.models import DecimalField

    plain = [
        f"{model.__name__}.{f.name}"
        for model in apps.get_models()
        for f in model._meta.get_fields()
        if isinstance(f, DecimalField) and not isinstance(f, ExactDecimalField)
    ]
    assert plain == []
    assert len(exact_columns()) >= 40


def one_row_of_each(instrument: Instrument) -> dict[type[Any], Any]:
    user, _, account = funded("1")
    portfolio = Portfolio.objects.create(owner=user, name="p")
    order = Order.objects.create(
        account=account,
        instrument=instrument,
        side="buy",
        type="limit",
        quantity=D("9" * 22 + "." + "9" * 10),  # room for any `filled`
        price=D(1),
        time_in_force="GTC",
        held_currency="USD",
    )
    alert = Alert.objects.create(owner=user, instrument=instrument, condition="above", value=1)
    p = {"open": 1, "high": 1, "low": 1, "volume": 1}
    return {
        Instrument: instrument,
        Candle: Candle.objects.create(
            instrument=instrument, interval="1m", start=NOW, close=1, **p
        ),
        Quote: Quote.objects.create(instrument=instrument, last=1, time=NOW, **p),
        Trade: Trade.objects.create(
            instrument=instrument, price=1, size=1, ts_event=NOW, ts_recv=NOW, source="t"
        ),
        Cryptocurrency: Cryptocurrency.objects.create(
            name="x", instrument=instrument, price=1, timestamp=NOW
        ),
        Balance: Balance.objects.get(account=account),
        Transfer: Transfer.objects.filter(account=account).first(),
        Order: order,
        Fill: Fill.objects.create(
            order=order,
            account=account,
            price=1,
            quantity=1,
            fee=0,
            fee_currency="USD",
            liquidity="maker",
            trade="t",
            time=NOW,
        ),
        Transaction: Transaction.objects.create(
            portfolio=portfolio, kind="deposit", quantity=1, time=NOW
        ),
        Alert: alert,
        AlertFiring: AlertFiring.objects.create(alert=alert, price=1, level=1, fired_at=NOW),
        TradingAccount: account,
        ReferenceRate: ReferenceRate.objects.create(day=NOW.date(), currency="USD", per_euro=1),
        StrategyRun: StrategyRun.objects.create(
            mode="backtest", strategy="S", source="s.py", symbol="AAPL", cash=1, data="d"
        ),
    }


@st.composite
def column_values(draw: st.DrawFn, field: ExactDecimalField, signed: bool) -> Decimal:
    """A value with at most the column's digits and decimals."""
    biggest = 10**field.max_digits - 1
    units = draw(st.integers(-biggest if signed else 0, biggest))
    return D(units).scaleb(-field.decimal_places, context=Context(prec=60))


@pytest.mark.parametrize(("model", "field"), exact_columns(), ids=lambda x: getattr(x, "name", x))
def test_every_value_a_column_allows_comes_back_exactly(
    instruments: None, model: type[Any], field: ExactDecimalField
) -> None:
    rows = one_row_of_each(Instrument.objects.get(symbol="AAPL"))
    assert model in rows, f"no row of {model.__name__} to write to"
    pk = rows[model].pk
    signed = (model, field.name) not in NOT_NEGATIVE

    @settings(max_examples=40, deadline=None)
    @given(column_values(field, signed))
    def round_trip(value: Decimal) -> None:
        with transaction.atomic():
            model.objects.filter(pk=pk).update(**{field.name: value})
            stored = model.objects.filter(pk=pk).values_list(field.name, flat=True).get()
            assert stored == value and isinstance(stored, Decimal)
            # and SQL compares it as a number: it is the one row equal to itself
            assert model.objects.filter(pk=pk, **{field.name: value}).exists()
            transaction.set_rollback(True)

    round_trip()


def test_a_value_beyond_a_column_is_refused_not_rounded_away(instruments: None) -> None:
    row = one_row_of_each(Instrument.objects.get(symbol="AAPL"))[Transfer]
    with pytest.raises(DataError), transaction.atomic():
        Transfer.objects.filter(pk=row.pk).update(amount=D("1" + "0" * 22))


def test_sql_compares_decimal_columns_as_numbers(instruments: None) -> None:
    row = one_row_of_each(Instrument.objects.get(symbol="AAPL"))[Balance]
    Balance.objects.filter(pk=row.pk).update(available=D("9.5"))
    assert Balance.objects.filter(pk=row.pk, available__lt=D("10")).exists()
    assert Balance.objects.filter(pk=row.pk, available__gt=D("9.4999999999")).exists()
    assert not Balance.objects.filter(pk=row.pk, available__gt=D("9.5000000000")).exists()
    assert compare_decimal_texts("9.5", "10") == -1 and compare_decimal_texts("2", "2.000") == 0


# --- what a new user saw on SQLite ---


@pytest.fixture
def trader(instruments: None) -> tuple[APIClient, Any]:
    return trading_client("100000")


def test_a_deposit_of_one_ten_billionth_is_kept(trader: tuple[APIClient, Any]) -> None:
    api, account = trader
    response = api.post("/api/trading/deposits/", {"amount": "0.0000000001"}, format="json")
    assert response.status_code in (200, 201), response.json()
    assert balances(account)["USD"] == (D("100000.0000000001"), D(0))


def test_a_withdrawal_of_one_ten_billionth_is_not_free(trader: tuple[APIClient, Any]) -> None:
    api, account = trader
    api.post("/api/trading/deposits/", {"amount": "900000"}, format="json")
    response = api.post("/api/trading/withdrawals/", {"amount": "0.0000000001"}, format="json")
    assert response.status_code in (200, 201), response.json()
    assert balances(account)["USD"] == (D("999999.9999999999"), D(0))


def test_an_order_whose_reservation_has_sixteen_digits_can_be_cancelled(
    trader: tuple[APIClient, Any],
) -> None:
    api, account = trader
    api.post("/api/trading/deposits/", {"amount": "200000000"}, format="json")
    placed = api.post(
        "/api/trading/orders/",
        {"symbol": "BTC-USD", "side": "buy", "type": "limit", "quantity": "1234.56789"}
        | {"price": "99999.99"},
        format="json",
    )
    assert placed.status_code == 201, placed.json()
    reserved = D(placed.json()["reserved"])
    assert len(reserved.as_tuple().digits) >= 16, reserved  # what SQLite used to round
    assert balances(account)["USD"][1] == reserved
    cancelled = api.delete(f"/api/trading/orders/{placed.json()['id']}/")
    assert cancelled.status_code == 200, cancelled.json()
    assert balances(account)["USD"] == (D("200100000"), D(0))


def test_the_sqlite_columns_are_text_compared_as_decimals() -> None:
    if connection.vendor != "sqlite":
        pytest.skip("the storage rule for SQLite")
    with connection.cursor() as cursor:
        cursor.execute("SELECT sql FROM sqlite_master WHERE name = 'trading_balance'")
        (ddl,) = cursor.fetchone()
    assert '"available" text COLLATE decimal NOT NULL' in ddl
