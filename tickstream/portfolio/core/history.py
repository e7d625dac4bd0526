"""A portfolio's value day by day and its returns over a period (pure).

Each day's value is the holdings at that day's end marked at the day's close (the last
close on or before it; before an instrument has any close, the last price the portfolio
traded it at), plus cash when the portfolio tracks cash. External flows are what the
investor put in or took out that day:

- a portfolio with deposits or withdrawals tracks cash: its value includes cash, and its
  flows are the deposits (in) and withdrawals (out);
- one without tracks no cash: its value is the holdings alone, and every buy is money put
  in, every sale, dividend and withdrawal money taken out (fees paid on their own are
  money put in).

Returns: time-weighted (flows at the start of their day, sub-periods chained daily) and
money-weighted (XIRR of the period's flows with the starting value as the first flow and
the ending value as the last).
"""

from __future__ import annotations

import bisect
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from tickstream.portfolio.core.costbasis import ZERO, Book, Kind, Method, Transaction, apply
from tickstream.portfolio.core.returns import ReturnError, time_weighted, xirr

Closes = Mapping[str, Sequence[tuple[date, Decimal]]]  # per symbol, sorted by day
MIN_XIRR_DAYS = 28  # an annual rate from a shorter period says nothing


@dataclass(frozen=True, slots=True)
class DayValue:
    day: date
    market_value: Decimal
    cash: Decimal
    value: Decimal  # what the return is measured on
    flow: Decimal  # money put in (+) or taken out (-) that day


def day_of(ns: int) -> date:
    return datetime.fromtimestamp(ns / 1e9, UTC).date()


def tracks_cash(transactions: Sequence[Transaction]) -> bool:
    return any(t.kind in (Kind.DEPOSIT, Kind.WITHDRAWAL) for t in transactions)


def _flow(t: Transaction, cash: bool) -> Decimal:
    if cash:
        if t.kind is Kind.DEPOSIT:
            return t.quantity
        return -t.quantity if t.kind is Kind.WITHDRAWAL else ZERO
    if t.kind is Kind.BUY:
        return t.quantity * t.price + t.fee
    if t.kind is Kind.SELL:
        return -(t.quantity * t.price - t.fee)
    if t.kind is Kind.DIVIDEND:
        return -(t.quantity - t.fee)
    return t.quantity + t.fee if t.kind is Kind.FEE else ZERO


def daily_values(
    transactions: Sequence[Transaction], closes: Closes, start: date, end: date
) -> list[DayValue]:
    """The portfolio's value at the end of every day from `start` to `end`."""
    ordered = sorted(transactions, key=Transaction.sort_key)
    cash = tracks_cash(ordered)
    book = Book(Method.FIFO)  # quantities and cash do not depend on the method
    traded: dict[str, Decimal] = {}
    days = {s: [d for d, _ in rows] for s, rows in closes.items()}
    out: list[DayValue] = []
    i = 0
    day = start
    while day <= end:
        flow = ZERO
        while i < len(ordered) and day_of(ordered[i].time) <= day:
            t = ordered[i]
            apply(book, t)
            if t.kind in (Kind.BUY, Kind.SELL) and t.price > 0:
                traded[t.symbol] = t.price
            if day_of(t.time) >= start:
                flow += _flow(t, cash)
            i += 1
        market = ZERO
        for symbol, holding in book.holdings.items():
            quantity = holding.quantity
            if quantity == 0:
                continue
            price = traded.get(symbol, ZERO)
            index = bisect.bisect_right(days.get(symbol, []), day) - 1
            if index >= 0:
                price = closes[symbol][index][1]
            market += quantity * price
        value = market + book.cash if cash else market
        out.append(DayValue(day, market, book.cash, value, flow))
        day += timedelta(days=1)
    return out


@dataclass(frozen=True, slots=True)
class Returns:
    start: date
    end: date
    start_value: Decimal
    end_value: Decimal
    net_flows: Decimal
    gain: Decimal  # end - start - flows
    twr: float | None
    xirr: float | None  # annual; None for periods under MIN_XIRR_DAYS or without a rate


def period_returns(values: Sequence[DayValue]) -> Returns:
    """Returns over `values`: the first day is the period's start (its end value is the
    starting value), the last day its end."""
    if len(values) < 2:
        raise ReturnError("a period needs at least two days")
    first, last = values[0], values[-1]
    body = values[1:]
    growth = []
    previous = first.value
    for v in body:
        growth.append((float(previous + v.flow), float(v.value)))
        previous = v.value
    flows = sum((v.flow for v in body), ZERO)
    twr = time_weighted(growth) if any(s > 0 for s, _ in growth) else None
    rate: float | None = None
    if (last.day - first.day).days >= MIN_XIRR_DAYS:
        cash_flows = [(first.day, -float(first.value))] if first.value else []
        cash_flows += [(v.day, -float(v.flow)) for v in body if v.flow]
        cash_flows.append((last.day, float(last.value)))
        try:
            rate = xirr(cash_flows)
        except ReturnError:
            rate = None
    gain = last.value - first.value - flows
    return Returns(first.day, last.day, first.value, last.value, flows, gain, twr, rate)
