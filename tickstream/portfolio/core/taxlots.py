"""Realized gains lot by lot, for a year's tax return (pure).

Each sale is listed once per lot it consumed, under any of the four methods (a "what if":
the portfolio's own method is not changed):

- **acquired**: the lot's buy day (`average`: the pool's first buy: one pooled lot has no
  holding period of its own; tax rules that allow average cost say how to date it);
- **sold**, **quantity**;
- **proceeds**: the sale's proceeds after its fee, in the portfolio's currency at the
  sale's rate, shared among its lots by quantity (the last lot takes the remainder, so the
  lots' proceeds add up to the sale's exactly);
- **cost**: the lot's part of its cost, fees included, at its buy's rate;
- **gain** = proceeds - cost; its **currency effect** (the lot's own-currency cost at the
  sale's rate less its cost) for lots in other currencies;
- **term**: long when the lot was held more than `long_term_days` (365 by default, the
  one-year rule of most tax codes), else short.

Cost: the replay of the transactions (O(n log n)) and one row per lot consumed.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import ROUND_HALF_EVEN, Decimal

from tickstream.market.core.messages import decimal_str
from tickstream.portfolio.core.costbasis import ZERO, Method, Transaction, compute
from tickstream.portfolio.core.history import day_of

LONG_TERM_DAYS = 365
_PLACES = Decimal("1e-10")


@dataclass(frozen=True, slots=True)
class LotRow:
    symbol: str
    acquired: date
    sold: date
    quantity: Decimal
    proceeds: Decimal
    cost: Decimal
    long_term: bool
    currency: str  # "": the portfolio's
    buy_rate: Decimal | None  # the lot's (None: `average` pools of several rates)
    sale_rate: Decimal
    currency_effect: Decimal

    @property
    def gain(self) -> Decimal:
        return self.proceeds - self.cost

    @property
    def term(self) -> str:
        return "long" if self.long_term else "short"


@dataclass(frozen=True, slots=True)
class Report:
    year: int
    method: Method
    rows: tuple[LotRow, ...]

    def total(self, term: str | None = None) -> dict[str, Decimal]:
        rows = [r for r in self.rows if term is None or r.term == term]
        proceeds = sum((r.proceeds for r in rows), ZERO)
        cost = sum((r.cost for r in rows), ZERO)
        return {"proceeds": proceeds, "cost": cost, "gain": proceeds - cost}

    def years(self) -> list[int]:
        return sorted({r.sold.year for r in self.rows})

    def of_year(self, year: int) -> Report:
        """The rows of the sales of `year` (of a report of every year)."""
        return Report(year, self.method, tuple(r for r in self.rows if r.sold.year == year))


def report(
    transactions: Sequence[Transaction],
    method: Method | str,
    year: int | None,
    *,
    long_term_days: int = LONG_TERM_DAYS,
) -> Report:
    """The lots sold in `year` (every year: None) under `method`."""
    book = compute(transactions, method)
    rates = {t.ref: t.rate for t in transactions}
    rows: list[LotRow] = []
    for sale in book.sales:
        sold = day_of(sale.time)
        if year is not None and sold.year != year:
            continue
        left = sale.proceeds
        for index, lot in enumerate(sale.lots):
            if index == len(sale.lots) - 1:
                proceeds = left
            else:
                proceeds = (sale.proceeds * lot.quantity / sale.quantity).quantize(
                    _PLACES, rounding=ROUND_HALF_EVEN
                )
                left -= proceeds
            acquired = day_of(lot.acquired)
            pooled = book.method is Method.AVERAGE
            rows.append(
                LotRow(
                    sale.symbol,
                    acquired,
                    sold,
                    lot.quantity,
                    proceeds,
                    lot.cost,
                    (sold - acquired).days > long_term_days,
                    sale.currency,
                    None if pooled else rates.get(lot.ref),
                    sale.rate,
                    lot.native * sale.rate - lot.cost if sale.currency else ZERO,
                )
            )
    return Report(year or 0, Method(method), tuple(rows))


# The columns of the lot listings of the common forms (the US Form 8949's (a) to (h), the
# UK's capital gains summary): description, dates, proceeds, cost, gain; then the term,
# and the currency facts that back the figures.
CSV_COLUMNS = (
    "description",
    "date_acquired",
    "date_sold",
    "proceeds",
    "cost_basis",
    "gain_or_loss",
    "term",
    "quantity",
    "symbol",
    "currency",
    "buy_rate",
    "sale_rate",
    "currency_effect",
)


def _cents(value: Decimal) -> str:
    return format(value.quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN), "f")


def csv_text(rows: Iterable[LotRow], base: str) -> str:
    """The rows as CSV, money at cents (half to even) in `base`."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                f"{decimal_str(r.quantity)} {r.symbol}",
                r.acquired.isoformat(),
                r.sold.isoformat(),
                _cents(r.proceeds),
                _cents(r.cost),
                _cents(r.gain),
                r.term,
                decimal_str(r.quantity),
                r.symbol,
                r.currency or base,
                "" if r.buy_rate is None else decimal_str(r.buy_rate),
                decimal_str(r.sale_rate),
                _cents(r.currency_effect),
            ]
        )
    return out.getvalue()
