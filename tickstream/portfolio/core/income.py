"""A portfolio's income (pure): dividends and interest by month and by year, the last
twelve months', a forward estimate per holding, and yield on cost.

- Every amount is gross (before a withholding fee) in the portfolio's currency at the rate
  of its transaction.
- **Trailing twelve months** (TTM): the income of the days after the same day a year
  before today, up to today.
- **Forward estimate** of a holding: what its dividends of the last twelve months paid
  per share held on each payment's day, times the shares held now, at today's rate: the
  common "TTM run rate" (it assumes the next twelve months pay as the last did; no
  announced dividend is known to tickstream). A holding that paid nothing in the last
  twelve months has none (`None`, shown as "—").
- **Yield on cost**: the forward estimate over the holding's cost basis.

Cost: one pass over the transactions in trade-time order, O(n log n) for the sort.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from decimal import Decimal

from tickstream.portfolio.core.costbasis import ZERO, Book, Kind, Method, Transaction, apply

INCOME = frozenset({Kind.DIVIDEND, Kind.INTEREST})


def _day(ns: int) -> date:
    return datetime.fromtimestamp(ns / 1e9, UTC).date()


def year_before(day: date) -> date:
    """The same day a year before (28 February for a 29th)."""
    try:
        return day.replace(year=day.year - 1)
    except ValueError:
        return day.replace(year=day.year - 1, day=28)


@dataclass(frozen=True, slots=True)
class Payment:
    day: date
    kind: Kind
    symbol: str  # "" for interest
    amount: Decimal  # in the portfolio's currency
    own: Decimal  # in its own currency
    currency: str  # "": the portfolio's
    held: Decimal  # the shares held that day (0 for interest)


@dataclass(frozen=True, slots=True)
class Forward:
    symbol: str
    quantity: Decimal
    cost: Decimal
    ttm: Decimal  # its income of the last twelve months (the portfolio's currency)
    estimate: Decimal | None  # of the next twelve months; None: it paid nothing

    @property
    def yield_on_cost(self) -> Decimal | None:
        if self.estimate is None or self.cost <= 0:
            return None
        return self.estimate / self.cost


@dataclass(frozen=True, slots=True)
class Income:
    payments: tuple[Payment, ...]
    months: dict[str, Decimal]  # "YYYY-MM" -> income, every month from the first to today's
    years: dict[int, Decimal]
    ttm: Decimal
    holdings: tuple[Forward, ...] = field(default=())

    @property
    def total(self) -> Decimal:
        return sum(self.years.values(), ZERO)

    @property
    def forward(self) -> Decimal:
        return sum((h.estimate for h in self.holdings if h.estimate is not None), ZERO)

    @property
    def cost(self) -> Decimal:
        return sum((h.cost for h in self.holdings), ZERO)

    @property
    def yield_on_cost(self) -> Decimal | None:
        cost = self.cost
        return None if cost <= 0 else self.forward / cost


def income(
    transactions: Iterable[Transaction],
    today: date,
    rates: Mapping[str, Decimal] | None = None,
) -> Income:
    """The income of `transactions` up to `today`; `rates`: each other currency's rate
    now (for the forward estimates)."""
    rates = rates or {}
    book = Book(Method.FIFO, keep_sales=False)
    payments: list[Payment] = []
    for tx in sorted(transactions, key=Transaction.sort_key):
        apply(book, tx)
        if tx.kind not in INCOME or _day(tx.time) > today:
            continue
        held = book.holdings.get(tx.symbol)
        payments.append(
            Payment(
                _day(tx.time),
                tx.kind,
                tx.symbol,
                tx.quantity * tx.rate,
                tx.quantity,
                tx.currency,
                ZERO if held is None else held.quantity,
            )
        )
    months: dict[str, Decimal] = {}
    years: dict[int, Decimal] = {}
    if payments:
        first = payments[0].day
        year, month = first.year, first.month
        while (year, month) <= (today.year, today.month):
            months[f"{year:04d}-{month:02d}"] = ZERO
            year, month = (year, month + 1) if month < 12 else (year + 1, 1)
        for y in range(first.year, today.year + 1):
            years[y] = ZERO
    since = year_before(today)
    ttm = ZERO
    per_share: dict[str, Decimal] = {}  # own currency, last twelve months
    ttm_of: dict[str, Decimal] = {}
    for p in payments:
        months[p.day.strftime("%Y-%m")] += p.amount
        years[p.day.year] += p.amount
        if p.day > since:
            ttm += p.amount
            if p.symbol:
                ttm_of[p.symbol] = ttm_of.get(p.symbol, ZERO) + p.amount
                if p.held > 0:
                    per_share[p.symbol] = per_share.get(p.symbol, ZERO) + p.own / p.held
    forwards = []
    for h in sorted(book.holdings.values(), key=lambda h: h.symbol):
        if h.quantity == 0:
            continue
        rate = rates.get(h.currency, Decimal(1)) if h.currency else Decimal(1)
        unit = per_share.get(h.symbol)
        estimate = None if unit is None else unit * h.quantity * rate
        forwards.append(Forward(h.symbol, h.quantity, h.cost, ttm_of.get(h.symbol, ZERO), estimate))
    return Income(tuple(payments), months, years, ttm, tuple(forwards))
