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


# --- figures that were wrong ---


def test_a_portfolio_of_cash_deposited_on_the_last_day_has_no_money_weighted_rate() -> None:
    """The demo's paper portfolio: cash only, deposited today. Over 1M the money was
    invested for no time: no annual rate (it showed -99.99 %), a 0 % TWR, no gain."""
    today = date(2026, 12, 7)
    txs = [Transaction(Kind.DEPOSIT, ns(today), quantity=D("100000"))]
    days = daily_values(txs, {}, date(2026, 11, 7), today)
    r = period_returns(days)
    assert r.xirr is None and r.twr == 0.0 and r.gain == 0


def test_money_invested_for_less_than_the_minimum_has_no_annual_rate() -> None:
    txs = [
        Transaction(Kind.DEPOSIT, ns(date(2026, 1, 1)), quantity=D("100")),
        Transaction(Kind.DEPOSIT, ns(date(2026, 11, 30)), quantity=D("100000")),
    ]
    r = period_returns(daily_values(txs, {}, date(2026, 11, 1), date(2026, 12, 7)))
    assert r.xirr is not None  # the 100 was there all period
    short = period_returns(daily_values(txs[1:], {}, date(2026, 11, 1), date(2026, 12, 7)))
    assert short.xirr is None  # 7 days of money: no annual rate


def test_a_split_adjusts_the_last_traded_price_that_marks_a_holding() -> None:
    """No stored close: the holding is marked at the last price traded, which is a price
    of the old shares; a 2:1 split halves it, and the value does not double."""
    txs = [
        Transaction(Kind.DEPOSIT, ns(date(2024, 1, 1)), quantity=D("1000")),
        Transaction(Kind.BUY, ns(date(2024, 1, 2)), "X", D("10"), D("100"), ref="b"),
        Transaction(Kind.SPLIT, ns(date(2024, 1, 3)), "X", D("2"), ref="s"),
    ]
    days = daily_values(txs, {}, date(2024, 1, 1), date(2024, 1, 4))
    assert [v.value for v in days] == [D("1000")] * 4
    assert period_returns(days).twr == 0.0


def test_a_history_from_1900_has_returns() -> None:
    """126 years of flows: a rate near -100 % cannot be discounted in a float (it was a
    ZeroDivisionError); the search stays within what a float can discount."""
    txs = [
        Transaction(Kind.DEPOSIT, ns(date(1900, 1, 1)), quantity=D("1000")),
        Transaction(Kind.BUY, ns(date(1900, 1, 2)), "X", D("10"), D("100"), ref="b"),
    ]
    closes = {"X": [(date(1900, 1, 2), D("100")), (date(2026, 1, 1), D("1000"))]}
    days = daily_values(txs, closes, date(1899, 12, 31), date(2026, 1, 2))
    r = period_returns(days)
    assert r.twr == pytest.approx(9.0) and r.gain == D("9000")
    assert r.xirr == pytest.approx(10 ** (1 / (46022 / 365)) - 1, rel=1e-6)
