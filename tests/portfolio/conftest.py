"""Portfolios of test users, built through the services (the one way data is written)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from tests.stream.conftest import market  # noqa: F401 - the live market, for these tests too
from tickstream.portfolio.core.records import record
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.portfolio.services import portfolio_create, transaction_add


def add(portfolio: Portfolio, **fields: Any) -> Transaction:
    """A transaction through the service, fields as the API takes them."""
    fields.setdefault("time", "2025-01-02T15:00:00Z")
    return transaction_add(portfolio=portfolio, record=record(fields, datetime.now(UTC)))


@pytest.fixture
def make_portfolio(instruments: None) -> Callable[..., Portfolio]:
    def make(owner: Any, name: str = "Main", method: str = "fifo") -> Portfolio:
        return portfolio_create(owner=owner, name=name, method=method)

    return make


def apply_marks(whole: dict[str, Any], marks: dict[str, Any]) -> dict[str, Any]:
    """What a client does with a live update of `portfolio:<id>` (docs/protocol.md): a
    whole valuation is taken as it is; marks give each holding's price and reference, from
    which its figures follow exactly (quantity x price, against its exact cost)."""
    from decimal import Decimal

    from tickstream.portfolio.core.valuation import money, percent

    if "holdings" in marks:
        return marks
    assert marks["version"] == whole["version"], "marks of another basis: ask again"
    out = {**whole, "as_of": marks["as_of"], "totals": {**whole["totals"], **marks["totals"]}}
    rates = marks.get("rates", {})
    if rates:
        out["rates"] = rates

    def rate_of(h: dict[str, Any], which: int) -> Decimal:
        found = rates.get(h.get("currency", ""))
        return Decimal(1) if found is None else Decimal(found[which])

    values = {
        h["symbol"]: Decimal(h["quantity"])
        * Decimal(marks["prices"][h["symbol"]][0])
        * rate_of(h, 0)
        for h in whole["holdings"]
        if h["symbol"] in marks["prices"]
    }
    total = sum(values.values(), Decimal(0))
    holdings = []
    for h in whole["holdings"]:
        mark = marks["prices"].get(h["symbol"])
        if mark is None:
            holdings.append(h)
            continue
        quantity, cost, value = Decimal(h["quantity"]), Decimal(h["cost"]), values[h["symbol"]]
        price, reference = Decimal(mark[0]), mark[1]
        day = (
            Decimal(0)
            if reference is None
            else value - quantity * Decimal(reference) * rate_of(h, 1)
        )
        extra = {}
        if h.get("currency") in rates:
            rate, own = rate_of(h, 0), Decimal(h["own_cost"])
            extra = {
                "rate": rates[h["currency"]][0],
                "price_effect": money((quantity * price - own) * rate),
                "currency_effect": money(own * rate - cost),
            }
        holdings.append(
            {
                **h,
                "price": mark[0],
                "market_value": money(value),
                "unrealized_pnl": money(value - cost),
                "unrealized_pnl_pct": percent(value - cost, cost),
                "day_change": money(day),
                "allocation_pct": percent(value, total),
                **extra,
            }
        )
    out["holdings"] = holdings
    return out
