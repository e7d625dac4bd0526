"""A portfolio's value day by day and its returns over a period (pure).

Each day's value is the holdings at that day's end marked at the day's close (the last
close on or before it; before an instrument has any close, the last price the portfolio
traded it at, adjusted by the splits since), plus cash. External flows are what the
investor put in or took out that day: deposits, withdrawals, and money spent beyond the
cash held (the cost-basis book's `implicit`: a portfolio that records only buys and sales
brings in each buy's cost, and keeps its sales' proceeds as cash).

**Currencies.** A holding or cash in another currency is valued at that currency's rate
of the day (`RateOf`: the ECB reference rate, the last fixing on or before the day). Each
day's gain splits into the currency's effect, what the day's move of the rates did to what
was held at the previous day's end (its own-currency value at the day's prices times the
rate's change), and the price's effect, the rest. A period's effects are the sums of its
days'.

Returns: time-weighted (flows at the start of their day, sub-periods chained daily) and
money-weighted (XIRR of the period's flows with the starting value as the first flow and
the ending value as the last; none when the money was invested for less than
MIN_XIRR_DAYS of the period). `docs/portfolio.md` states the definitions.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tickstream.portfolio.core.costbasis import ZERO, Book, Kind, Method, Transaction, apply
from tickstream.portfolio.core.returns import ReturnError, time_weighted, xirr

Closes = Mapping[str, Sequence[tuple[date, Decimal]]]  # per symbol, sorted by day
RateOf = Callable[[str, date], Decimal]  # a currency's rate in the portfolio's on a day
MIN_XIRR_DAYS = 28  # an annual rate from a shorter period says nothing


@dataclass(frozen=True, slots=True)
class DayValue:
    day: date
    market_value: Decimal
    cash: Decimal
    value: Decimal  # what the return is measured on
    flow: Decimal  # money put in (+) or taken out (-) that day
    currency_effect: Decimal = ZERO  # of the day's gain: the rates' moves


def day_of(ns: int) -> date:
    return datetime.fromtimestamp(ns / 1e9, UTC).date()


_NONE: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class DayEnd:
    """The portfolio at the end of a day it has transactions."""

    day: date
    quantities: Mapping[str, Decimal]  # what is held, by symbol (never zero)
    traded: Mapping[str, Decimal]  # the last price each symbol traded at, split-adjusted
    cash: Decimal
    invested: Decimal  # net money put in so far (`Book.invested`)
    foreign: Mapping[str, Decimal] = field(
        default_factory=lambda: _NONE
    )  # cash in other currencies
    currencies: Mapping[str, str] = field(
        default_factory=lambda: _NONE
    )  # symbol -> its other currency


class Timeline:
    """A portfolio's state at the end of every day it has transactions, in order, kept
    beside its book: `note` after each transaction applied in trade-time order (O(s) for
    the s symbols held), `at` a day by bisection (O(log d))."""

    __slots__ = ("days", "ends")

    def __init__(self) -> None:
        self.days: list[date] = []
        self.ends: list[DayEnd] = []

    def note(self, book: Book, tx: Transaction) -> DayEnd | None:
        """`tx` was just applied to `book` (the last transaction so far). What did not
        change is shared with the previous state, not copied. Returns the state of the
        day it replaced (None: a new day), for `unnote`."""
        last = self.ends[-1] if self.ends else None
        traded: Mapping[str, Decimal] = {} if last is None else last.traded
        if tx.kind in (Kind.BUY, Kind.SELL) and tx.price > 0 and tx.pair is None:
            traded = {**traded, tx.symbol: tx.price}
        elif tx.kind is Kind.SPLIT and tx.symbol in traded:
            # the last traded price is a price of the old shares
            traded = {**traded, tx.symbol: traded[tx.symbol] / tx.quantity}
        held = book.holdings.get(tx.symbol) if tx.symbol else None
        quantities: Mapping[str, Decimal]
        if last is None:
            quantities = {h.symbol: h.quantity for h in book.holdings.values() if h.quantity}
        elif held is None:
            quantities = last.quantities  # a cash transaction: no holding moved
        else:
            moved = dict(last.quantities)
            if held.quantity:
                moved[tx.symbol] = held.quantity
            else:
                moved.pop(tx.symbol, None)
            quantities = moved
        day = day_of(tx.time)
        foreign: Mapping[str, Decimal] = _NONE if last is None else last.foreign
        currencies: Mapping[str, str] = _NONE if last is None else last.currencies
        if tx.currency or tx.pair:
            foreign = {c: a for c, a in book.foreign.items() if a}
            if tx.symbol and tx.pair is None and currencies.get(tx.symbol) != tx.currency:
                currencies = {**currencies, tx.symbol: tx.currency}
        end = DayEnd(day, quantities, traded, book.cash, book.invested, foreign, currencies)
        if last is not None and last.day == day:
            self.ends[-1] = end
            return last
        self.ends.append(end)  # a reader bisecting `days` finds its entry in `ends` already
        self.days.append(day)
        return None

    def unnote(self, replaced: DayEnd | None) -> None:
        """Take back the last `note`, which returned `replaced`."""
        if replaced is None:
            self.days.pop()
            self.ends.pop()
        else:
            self.ends[-1] = replaced

    def at(self, day: date) -> DayEnd | None:
        """The state at the end of `day` (of the last day with transactions up to it)."""
        index = bisect.bisect_right(self.days, day) - 1
        return self.ends[index] if index >= 0 else None

    @classmethod
    def of(cls, transactions: Sequence[Transaction]) -> Timeline:
        """The timeline of transactions in any order (a replay: O(n log n))."""
        timeline = cls()
        book = Book(Method.FIFO)  # quantities and cash do not depend on the method
        for tx in sorted(transactions, key=Transaction.sort_key):
            apply(book, tx)
            timeline.note(book, tx)
        return timeline


def daily_values(
    transactions: Sequence[Transaction],
    closes: Closes,
    start: date,
    end: date,
    rate_of: RateOf | None = None,
) -> list[DayValue]:
    """The portfolio's value at the end of every day from `start` to `end`."""
    return values_from(Timeline.of(transactions), closes, start, end, rate_of)


def _no_rate(currency: str, day: date) -> Decimal:
    raise LookupError(f"no rate of {currency} given")


def values_from(
    timeline: Timeline,
    closes: Closes,
    start: date,
    end: date,
    rate_of: RateOf | None = None,
) -> list[DayValue]:
    """The value at the end of every day from `start` to `end`, from a kept timeline:
    O(days x symbols held + log of the days with transactions), and a rate lookup per
    day and other currency held."""
    days = {s: [d for d, _ in rows] for s, rows in closes.items()}
    rate = rate_of or _no_rate
    out: list[DayValue] = []
    state = timeline.at(start - timedelta(days=1))
    invested = ZERO if state is None else state.invested
    index = bisect.bisect_right(timeline.days, start - timedelta(days=1))
    day = start
    before = start - timedelta(days=1)
    while day <= end:
        previous = state
        while index < len(timeline.days) and timeline.days[index] <= day:
            state = timeline.ends[index]
            index += 1
        market = ZERO
        cash = flow = effect = ZERO
        if previous is not None and (previous.currencies or previous.foreign):
            # what was held in other currencies at the previous day's end, at the day's
            # prices in its own currency, moved by the day's change of the rate
            held: dict[str, Decimal] = {}
            for symbol, quantity in previous.quantities.items():
                currency = previous.currencies.get(symbol)
                if currency:
                    price = _price(previous, symbol, closes, days, day)
                    held[currency] = held.get(currency, ZERO) + quantity * price
            for currency, amount in previous.foreign.items():
                held[currency] = held.get(currency, ZERO) + amount
            for currency, amount in held.items():
                effect += amount * (rate(currency, day) - rate(currency, before))
        if state is not None:
            for symbol, quantity in state.quantities.items():
                price = _price(state, symbol, closes, days, day)
                currency = state.currencies.get(symbol)
                market += quantity * price * (rate(currency, day) if currency else 1)
            cash = state.cash + sum((a * rate(c, day) for c, a in state.foreign.items()), ZERO)
            flow = state.invested - invested
            invested = state.invested
        out.append(DayValue(day, market, cash, market + cash, flow, effect))
        before = day
        day += timedelta(days=1)
    return out


def _price(
    state: DayEnd, symbol: str, closes: Closes, days: Mapping[str, list[date]], day: date
) -> Decimal:
    """A symbol's close of `day` (the last on or before it), else the last it traded at."""
    found = bisect.bisect_right(days.get(symbol, []), day) - 1
    if found >= 0:
        return closes[symbol][found][1]
    return state.traded.get(symbol, ZERO)


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
    currency_effect: Decimal = ZERO  # of the gain: the rates' moves (the rest: prices')


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
    effect = sum((v.currency_effect for v in body), ZERO)
    return Returns(first.day, last.day, first.value, last.value, flows, gain, twr, rate, effect)
