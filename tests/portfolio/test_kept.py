"""Each process keeps a portfolio's replayed history: a transaction after the last one
changes the kept replay instead of reading and replaying every row, and what is kept is
always the committed history of the revision in the row."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.db.models import F

from tests.factories import UserFactory
from tests.portfolio.conftest import add
from tickstream.portfolio import selectors
from tickstream.portfolio.core import costbasis as core
from tickstream.portfolio.core.valuation import Basis
from tickstream.portfolio.kept import KEPT, pure_transactions
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.portfolio.services import PortfolioError, transaction_delete

pytestmark = pytest.mark.django_db(transaction=True)  # changes commit, as in the server
D = Decimal


def fresh(portfolio: Portfolio) -> Basis:
    """The basis as a replay of every stored row gives it."""
    portfolio.refresh_from_db()
    return Basis.of(core.compute(pure_transactions(portfolio), portfolio.method))


def test_a_transaction_after_the_last_changes_the_kept_replay(
    make_portfolio: Callable[..., Portfolio],
) -> None:
    portfolio = make_portfolio(UserFactory(), method="hifo")
    add(portfolio, kind="deposit", quantity="10000", time="2025-01-01T10:00:00Z")
    builds = KEPT.builds
    for day in range(2, 20):
        add(portfolio, kind="buy", symbol="AAPL", quantity="3", price=f"{100 + day}",
            time=f"2025-01-{day:02d}T15:00:00Z")  # fmt: skip
        add(portfolio, kind="sell", symbol="AAPL", quantity="2", price="130",
            time=f"2025-01-{day:02d}T16:00:00Z")  # fmt: skip
        portfolio.refresh_from_db()
        assert selectors.portfolio_basis(portfolio) == fresh(portfolio)
    assert KEPT.builds == builds  # not one replay read from the database
    assert portfolio.revision == 37


def test_a_change_inside_the_history_is_replayed_from_memory(
    make_portfolio: Callable[..., Portfolio],
) -> None:
    portfolio = make_portfolio(UserFactory())
    add(portfolio, kind="buy", symbol="AAPL", quantity="5", price="100", time="2025-01-03")
    first = add(portfolio, kind="buy", symbol="AAPL", quantity="5", price="90", time="2025-01-02")
    add(portfolio, kind="sell", symbol="AAPL", quantity="7", price="120", time="2025-01-04")
    portfolio.refresh_from_db()
    assert selectors.portfolio_basis(portfolio) == fresh(portfolio)
    with pytest.raises(PortfolioError) as refused:  # its shares were sold
        transaction_delete(transaction_row=first)
    assert refused.value.code == "insufficient_quantity"
    portfolio.refresh_from_db()
    assert selectors.portfolio_basis(portfolio) == fresh(portfolio)
    assert Transaction.objects.filter(pk=first.pk).exists()


def test_what_a_rolled_back_change_did_is_not_kept(
    make_portfolio: Callable[..., Portfolio],
) -> None:
    portfolio = make_portfolio(UserFactory())
    add(portfolio, kind="deposit", quantity="100")
    with pytest.raises(RuntimeError), transaction.atomic():
        add(portfolio, kind="deposit", quantity="900")
        raise RuntimeError("rolled back")
    portfolio.refresh_from_db()
    assert selectors.portfolio_basis(portfolio).cash == D(100) == fresh(portfolio).cash
    # Another process's change takes the revision the rolled-back one would have had.
    Transaction.objects.filter(portfolio=portfolio).update(quantity=D(300))
    Portfolio.objects.filter(pk=portfolio.pk).update(revision=F("revision") + 1)
    portfolio.refresh_from_db()
    assert selectors.portfolio_basis(portfolio).cash == D(300) == fresh(portfolio).cash


def test_another_processes_change_is_read_again(
    make_portfolio: Callable[..., Portfolio],
) -> None:
    portfolio = make_portfolio(UserFactory())
    add(portfolio, kind="deposit", quantity="100")
    portfolio.refresh_from_db()
    assert selectors.portfolio_basis(portfolio).cash == D(100)
    # as another process would: a row written there, and the revision moved
    kept = Transaction.objects.get(portfolio=portfolio)
    Transaction.objects.filter(pk=kept.pk).update(quantity=D(250))
    Portfolio.objects.filter(pk=portfolio.pk).update(revision=F("revision") + 1)
    portfolio.refresh_from_db()
    assert selectors.portfolio_basis(portfolio).cash == D(250)


def test_returns_and_history_read_the_kept_replay(
    make_portfolio: Callable[..., Portfolio], django_assert_max_num_queries: Any
) -> None:
    portfolio = make_portfolio(UserFactory())
    for day in range(1, 29):
        add(portfolio, kind="deposit", quantity="10", time=f"2025-02-{day:02d}T12:00:00Z")
    portfolio.refresh_from_db()
    selectors.portfolio_history(portfolio)  # kept now
    with django_assert_max_num_queries(1):  # the daily closes, not the 28 rows
        points = selectors.portfolio_history(portfolio)
    assert points[0].flow == D(10) and points[27].value == D(280)
