"""A portfolio's value day by day and its returns over a period (pure).

Each day's value is the holdings at that day's end marked at the day's close (the last
close on or before it; before an instrument has any close, the last price the portfolio
traded it at, adjusted by the splits since), plus cash. External flows are what the
investor put in or took out that day: deposits, withdrawals, and money spent beyond the
cash held (the cost-basis book's `implicit`: a portfolio that records only buys and sales
brings in each buy's cost, and keeps its sales' proceeds as cash).

Returns: time-weighted (flows at the start of their day, sub-periods chained daily) and
money-weighted (XIRR of the period's flows with the starting value as the first flow and
the ending value as the last; none when the money was invested for less than
MIN_XIRR_DAYS of the period). `docs/portfolio.md` states the definitions.
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


def daily_values(
    transactions: Sequence[Transaction], closes: Closes, start: date, end: date
) -> list[DayValue]:
    """The portfolio's value at the end of every day from `start` to `end`."""
    ordered = sorted(transactions, key=Transaction.sort_key)
    book = Book(Method.FIFO)  # quantities and cash do not depend on the method
    traded: dict[str, Decimal] = {}
    days = {s: [d for d, _ in rows] for s, rows in closes.items()}
    out: list[DayValue] = []
    pending = iter(ordered)
    upcoming = next(pending, None)

    def through(last: date) -> None:
        """Apply the transactions of every day up to `last`."""
        nonlocal upcoming
        while upcoming is not None and day_of(upcoming.time) <= last:
            apply(book, upcoming)
            if upcoming.kind in (Kind.BUY, Kind.SELL) and upcoming.price > 0:
                traded[upcoming.symbol] = upcoming.price
            elif upcoming.kind is Kind.SPLIT and upcoming.symbol in traded:
                # the last traded price is a price of the old shares
                traded[upcoming.symbol] /= upcoming.quantity
            upcoming = next(pending, None)

    through(start - timedelta(days=1))
    day = start
    while day <= end:
        invested = book.invested
        through(day)
        flow = book.invested - invested
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
        value = market + book.cash
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
    cash_flows = [(first.day, -float(first.value))] if first.value else []
    cash_flows += [(v.day, -float(v.flow)) for v in body if v.flow]
    # An annual rate needs money invested for MIN_XIRR_DAYS: from the first money in (the
    # starting value, or the first flow) to the period's end, not merely a long period.
    if cash_flows and (last.day - cash_flows[0][0]).days >= MIN_XIRR_DAYS:
        cash_flows.append((last.day, float(last.value)))
        try:
            rate = xirr(cash_flows)
        except ReturnError:
            rate = None
    gain = last.value - first.value - flows
    return Returns(first.day, last.day, first.value, last.value, flows, gain, twr, rate)
