"""Daily values and period returns: cash-tracking and cash-less portfolios, carried-forward
closes, time- and money-weighted returns against hand-computed figures."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest

from tickstream.portfolio.core.costbasis import Kind, Transaction
from tickstream.portfolio.core.history import daily_values, period_returns

D = Decimal


def ns(day: date) -> int:
    return int(datetime(day.year, day.month, day.day, 15, tzinfo=UTC).timestamp()) * 10**9


def test_a_cash_tracking_portfolio_values_holdings_at_closes_plus_cash() -> None:
    txs = [
        Transaction(Kind.DEPOSIT, ns(date(2024, 1, 1)), quantity=D("1000")),
        Transaction(Kind.BUY, ns(date(2024, 1, 2)), "X", D("10"), D("50"), ref="b"),
    ]
    closes = {"X": [(date(2024, 1, 2), D("51")), (date(2024, 1, 4), D("55"))]}
    days = daily_values(txs, closes, date(2024, 1, 1), date(2024, 1, 5))
    assert [v.value for v in days] == [D("1000"), D("1010"), D("1010"), D("1050"), D("1050")]
    assert [v.flow for v in days] == [D("1000"), 0, 0, 0, 0]
    r = period_returns(days)
    # Start of the period: the first day's end value (1000); no flows after it.
    assert r.twr == pytest.approx(0.05) and r.gain == D("50") and r.xirr is None


def test_a_cashless_portfolio_counts_buys_as_money_put_in() -> None:
    txs = [
        Transaction(Kind.BUY, ns(date(2024, 1, 2)), "X", D("10"), D("100"), ref="a"),
        Transaction(Kind.BUY, ns(date(2024, 1, 3)), "X", D("10"), D("110"), ref="b"),
    ]
    closes = {"X": [(date(2024, 1, 2), D("110")), (date(2024, 1, 3), D("121"))]}
    days = daily_values(txs, closes, date(2024, 1, 1), date(2024, 1, 3))
    assert [v.value for v in days] == [0, D("1100"), D("2420")]
    assert [v.flow for v in days] == [0, D("1000"), D("1100")]
    r = period_returns(days)
    # Day 2: 1000 in, 1100 at the end (+10%); day 3: 1100 + 1100 in, 2420 (+10%).
    assert r.twr == pytest.approx(0.21)
    assert r.net_flows == D("2100") and r.gain == D("320")


def test_before_any_close_the_last_traded_price_marks_a_holding() -> None:
    txs = [Transaction(Kind.BUY, ns(date(2024, 1, 2)), "Y", D("3"), D("20"), ref="a")]
    days = daily_values(txs, {}, date(2024, 1, 2), date(2024, 1, 3))
    assert [v.market_value for v in days] == [D("60"), D("60")]


def test_money_weighted_return_over_a_long_period() -> None:
    start = date(2023, 1, 1)
    txs = [Transaction(Kind.DEPOSIT, ns(start), quantity=D("10000"))]
    txs.append(Transaction(Kind.BUY, ns(start), "Z", D("100"), D("100"), ref="z"))
    closes = {"Z": [(date(2024, 1, 1), D("110"))]}
    days = daily_values(txs, closes, date(2022, 12, 31), date(2024, 1, 1))
    r = period_returns(days)
    assert r.twr == pytest.approx(0.10)
    assert r.xirr == pytest.approx(0.10, abs=1e-4)  # one year (365 days) for 10%
