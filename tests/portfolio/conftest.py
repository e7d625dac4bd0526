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
