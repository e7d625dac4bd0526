"""Writes of portfolios. Every change is checked by replaying the portfolio's transactions
in the cost-basis core before anything is saved (all or nothing), and is published on
commit to the live `portfolio:<id>` channel, so the owner's open pages show it at once."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tickstream.market.models import Instrument
from tickstream.market.selectors import instruments_by_symbol
from tickstream.portfolio.core import costbasis as core
from tickstream.portfolio.core.records import Record
from tickstream.portfolio.core.valuation import Basis, change_message
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.portfolio.selectors import portfolio_header, pure_transaction, pure_transactions
from tickstream.stream.publish import publish

CURRENCIES = frozenset({"USD"})  # one base currency until FX rates exist


class PortfolioError(Exception):
    """A change that cannot be made; `code` (and `field`) say why."""

    def __init__(
        self, code: str, message: str, *, field: str | None = None, details: Any = None
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details


def _check_name(name: str) -> str:
    name = (name or "").strip()
    if not name or len(name) > 100 or not name.isprintable():
        raise PortfolioError(
            "bad_name", "a name of 1 to 100 printable characters is needed", field="name"
        )
    return name


def _check_method(method: str) -> core.Method:
    try:
        return core.Method(method)
    except ValueError:
        methods = ", ".join(m.value for m in core.Method)
        raise PortfolioError(
            "bad_method", f"method must be one of {methods}", field="method"
        ) from None


@transaction.atomic
def portfolio_create(
    *, owner: Any, name: str, method: str = "fifo", currency: str = "USD"
) -> Portfolio:
    """A new empty portfolio of `owner`."""
    if currency not in CURRENCIES:
        raise PortfolioError(
            "unsupported_currency",
            f"portfolios are in {', '.join(sorted(CURRENCIES))} for now",
            field="currency",
        )
    portfolio = Portfolio(
        owner=owner, name=_check_name(name), method=_check_method(method), currency=currency
    )
    _save(portfolio)
    return portfolio


@transaction.atomic
def portfolio_update(
    *, portfolio: Portfolio, name: str | None = None, method: str | None = None
) -> Portfolio:
    """Rename a portfolio or change its cost-basis method (everything is recomputed from
    the transactions under the new method)."""
    portfolio = _locked(portfolio)
    if name is not None:
        portfolio.name = _check_name(name)
    if method is not None:
        portfolio.method = _check_method(method)
    basis = _replay(portfolio, pure_transactions(portfolio))
    _save(portfolio)
    _published(portfolio, basis)
    return portfolio


@transaction.atomic
def portfolio_delete(*, portfolio: Portfolio) -> None:
    portfolio.delete()


def _save(portfolio: Portfolio) -> None:
    portfolio.full_clean(validate_constraints=False)
    try:
        with transaction.atomic():
            portfolio.save()
    except IntegrityError:
        raise PortfolioError(
            "duplicate_name", "you have a portfolio of that name already", field="name"
        ) from None


def _replay(portfolio: Portfolio, transactions: Iterable[core.Transaction]) -> Basis:
    """The basis the transactions make under the portfolio's method, or the reason they
    cannot stand (selling more than is held: `insufficient_quantity`)."""
    try:
        return Basis.of(core.compute(transactions, portfolio.method))
    except core.CostBasisError as exc:
        raise PortfolioError(exc.code, str(exc)) from None


def _published(portfolio: Portfolio, basis: Basis) -> None:
    """Send the portfolio's new basis to its live valuations once the change commits."""
    publish(f"portfolio:{portfolio.pk}", change_message(portfolio_header(portfolio), basis))


def _instruments(portfolio: Portfolio, records: Sequence[Record]) -> dict[str, Instrument]:
    """The instruments the records name, each known and quoted in the portfolio's currency."""
    wanted = sorted({r.symbol for r in records if r.symbol})
    found = instruments_by_symbol(wanted)
    for index, record in enumerate(records):
        if not record.symbol:
            continue
        instrument = found.get(record.symbol)
        if instrument is None:
            raise PortfolioError(
                "unknown_symbol",
                f"unknown symbol {record.symbol!r}",
                field="symbol",
                details={"index": index},
            )
        if instrument.quote_currency != portfolio.currency:
            raise PortfolioError(
                "currency_mismatch",
                f"{record.symbol} is quoted in {instrument.quote_currency}; this portfolio is "
                f"in {portfolio.currency} (no FX conversion yet)",
                field="symbol",
                details={"index": index},
            )
    return found


def _row(portfolio: Portfolio, record: Record, instruments: dict[str, Instrument]) -> Transaction:
    return Transaction(
        portfolio=portfolio,
        kind=record.kind.value,
        instrument=instruments.get(record.symbol) if record.symbol else None,
        quantity=record.quantity,
        price=record.price,
        fee=record.fee,
        time=record.time,
        note=record.note,
    )


def _locked(portfolio: Portfolio) -> Portfolio:
    """The portfolio row, locked: its changes are checked against one state at a time."""
    return Portfolio.objects.select_for_update().get(pk=portfolio.pk)


@transaction.atomic
def transaction_add(*, portfolio: Portfolio, record: Record) -> Transaction:
    """Add a checked transaction, if the portfolio's history still stands with it."""
    portfolio = _locked(portfolio)
    row = _row(portfolio, record, _instruments(portfolio, [record]))
    _clean(row)
    others = pure_transactions(portfolio)
    basis = _replay(portfolio, [*others, _pending(row)])
    row.save()
    _published(portfolio, basis)
    return row


@transaction.atomic
def transaction_update(*, transaction_row: Transaction, record: Record) -> Transaction:
    """Replace a transaction's fields, if the history still stands with the new ones."""
    portfolio = _locked(transaction_row.portfolio)
    row = _row(portfolio, record, _instruments(portfolio, [record]))
    row.pk = transaction_row.pk
    row.import_key = transaction_row.import_key
    row.created_at = transaction_row.created_at
    _clean(row)
    others = [t for t in pure_transactions(portfolio) if t.ref != str(row.pk)]
    basis = _replay(portfolio, [*others, pure_transaction(row)])
    row.save()
    _published(portfolio, basis)
    return row


@transaction.atomic
def transaction_delete(*, transaction_row: Transaction) -> None:
    """Delete a transaction, if the history still stands without it (a buy whose shares
    were sold later cannot go: `insufficient_quantity`)."""
    portfolio = _locked(transaction_row.portfolio)
    others = [t for t in pure_transactions(portfolio) if t.ref != str(transaction_row.pk)]
    basis = _replay(portfolio, others)
    transaction_row.delete()
    _published(portfolio, basis)


def _pending(row: Transaction, ref: str = "~new") -> core.Transaction:
    """An unsaved row as the core takes it (its ref sorts after every saved one)."""
    return replace(pure_transaction(row), ref=ref)


def _clean(row: Transaction) -> None:
    """The model's own checks (the record's are stricter; this guards the columns)."""
    try:
        row.full_clean(exclude=["portfolio", "instrument"], validate_unique=False)
    except ValidationError as exc:
        field, messages = next(iter(exc.message_dict.items()))
        raise PortfolioError("invalid", f"{field}: {' '.join(messages)}", field=field) from None


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int
    skipped: int  # rows imported before (same content)
    basis: Basis


@transaction.atomic
def transactions_import(
    *, portfolio: Portfolio, records: Sequence[Record], commit: bool = True
) -> ImportResult:
    """Import checked records all or nothing: rows imported before (the same content) are
    skipped; the rest are added if the history stands with them. With `commit=False`
    nothing is saved (the preview)."""
    portfolio = _locked(portfolio)
    instruments = _instruments(portfolio, records)
    seen: Counter[Record] = Counter()
    keyed = []
    for record in records:
        keyed.append((record, record.digest(seen[record])))
        seen[record] += 1
    known = set(
        portfolio.transactions.filter(import_key__in=[k for _, k in keyed]).values_list(
            "import_key", flat=True
        )
    )
    rows = []
    for index, (record, key) in enumerate(keyed):
        if key in known:
            continue
        row = _row(portfolio, record, instruments)
        row.import_key = key
        _clean(row)
        rows.append((index, row))
    pending = [_pending(row, f"~import-{index:06d}") for index, row in rows]
    basis = _replay(portfolio, [*pure_transactions(portfolio), *pending])
    if commit and rows:
        Transaction.objects.bulk_create([row for _, row in rows])
        _published(portfolio, basis)
    return ImportResult(len(rows), len(records) - len(rows), basis)
