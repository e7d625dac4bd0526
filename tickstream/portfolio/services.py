"""Writes of portfolios. Every change is checked in the cost-basis core before it is kept
(all or nothing), and is published on commit to the live `portfolio:<id>` channel, so the
owner's open pages show it at once.

A change starts from the portfolio's kept replay (`kept.py`): a transaction after the
last one is applied to it in O(log n); any other change takes back the kept transactions
from the first one it affects and applies them again with it. Each change adds one to
the portfolio's `revision`."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from tickstream.common.core.errors import CodedError
from tickstream.market.core.fx import NoRate, Rates, is_currency
from tickstream.market.models import Instrument
from tickstream.market.selectors import instruments_by_symbol, reference_rates
from tickstream.portfolio.core import costbasis as core
from tickstream.portfolio.core.records import Record
from tickstream.portfolio.core.replay import Replay
from tickstream.portfolio.core.valuation import Basis, change_message
from tickstream.portfolio.kept import KEPT, pure_transaction
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.portfolio.selectors import portfolio_basis, portfolio_rates
from tickstream.portfolio.shapes import HEADER
from tickstream.stream.publish import publish

RATE_PLACES = Decimal("1e-16")  # a reference cross rate, at the column's places


IMPORT_REF = "~import-"  # the ref of an imported row while it is checked: its index follows


class PortfolioError(CodedError):
    """A change that cannot be made; `code` (and `field`) say why."""


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
    """A new empty portfolio of `owner`, in any currency with reference rates."""
    currency = (currency or "").strip().upper()
    if not is_currency(currency) or not reference_rates().knows(currency):
        raise PortfolioError(
            "unsupported_currency",
            "a portfolio's currency is one with ECB reference rates: "
            + ", ".join(reference_rates().currencies()),
            field="currency",
        )
    portfolio = Portfolio(
        owner=owner, name=_check_name(name), method=_check_method(method), currency=currency
    )
    _save(portfolio)
    return portfolio


@transaction.atomic
def portfolio_update(
    *,
    portfolio: Portfolio,
    name: str | None = None,
    method: str | None = None,
    benchmark: str | None = None,
) -> Portfolio:
    """Rename a portfolio, choose its benchmark ("" for none), or change its cost-basis
    method (everything is recomputed from the transactions under the new method)."""
    portfolio = _locked(portfolio)
    if name is not None:
        portfolio.name = _check_name(name)
    if benchmark is not None:
        symbol = benchmark.strip().upper()
        found = instruments_by_symbol([symbol]).get(symbol) if symbol else None
        if symbol and found is None:
            raise PortfolioError("unknown_symbol", f"unknown symbol {symbol!r}", field="benchmark")
        portfolio.benchmark = found
    new_method = None if method is None else _check_method(method)
    if new_method is None or new_method == portfolio.method:
        _save(portfolio)
        _published(portfolio, portfolio_basis(portfolio))
        return portfolio
    kept = KEPT.take(portfolio)
    portfolio.method = new_method
    replay = _replayed(portfolio, kept, lambda: Replay.of(kept.transactions, portfolio.method))
    _save(portfolio)
    _changed(portfolio, replay)
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


def _replayed(
    portfolio: Portfolio,
    kept: Replay,
    change: Callable[[], Replay],
    changed: str | None = None,
) -> Replay:
    """`change()` made from the kept replay `kept` (taken by this writer), or the reason
    the history cannot stand with it (selling more than is held:
    `insufficient_quantity`, said of the transaction `changed` when it is the sale short,
    and with its row when it is an imported one); then `kept` goes back as it was."""
    try:
        return change()
    except core.InsufficientQuantity as exc:
        KEPT.keep(portfolio, kept)
        ref = exc.sale.ref
        details = {"index": int(ref.rsplit("-", 1)[1])} if ref.startswith(IMPORT_REF) else None
        said = exc.said(ref if ref.startswith(IMPORT_REF) else changed)
        raise PortfolioError(exc.code, said, field="quantity", details=details) from None
    except core.CostBasisError as exc:
        KEPT.keep(portfolio, kept)
        raise PortfolioError(exc.code, str(exc)) from None


def _changing(kept: Replay, **change: Any) -> Replay:
    kept.change(**change)
    return kept


def _changed(portfolio: Portfolio, replay: Replay) -> None:
    """The change is made: one more revision, kept and published once it commits."""
    portfolio.revision += 1
    portfolio.save(update_fields=["revision", "updated_at"])
    KEPT.keep(portfolio, replay, committed=False)
    _published(portfolio, Basis.of(replay.book))


def _published(portfolio: Portfolio, basis: Basis) -> None:
    """Send the portfolio's new basis to its live valuations once the change commits."""
    rates = portfolio_rates(portfolio, basis.currencies())
    publish(f"portfolio:{portfolio.pk}", change_message(HEADER.dump(portfolio), basis, rates))


def _instruments(portfolio: Portfolio, records: Sequence[Record]) -> dict[str, Instrument]:
    """The instruments the records name, each known, and in the currency the record says
    (if it says one)."""
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
        if record.currency and instrument.quote_currency != record.currency:
            raise PortfolioError(
                "currency_mismatch",
                f"{record.symbol} is quoted in {instrument.quote_currency}, not {record.currency}",
                field="currency",
                details={"index": index},
            )
    return found


def _row(
    portfolio: Portfolio,
    record: Record,
    instruments: dict[str, Instrument],
    rates: Rates | None = None,
    index: int | None = None,
) -> Transaction:
    """The row of a checked record, with its currency and the rate of its time: the
    record's own rate, or the reference rate of its day."""
    instrument = instruments.get(record.symbol) if record.symbol else None
    currency = instrument.quote_currency if instrument is not None else record.currency
    currency = currency or portfolio.currency
    details = None if index is None else {"index": index}
    rate = Decimal(1)
    if currency == portfolio.currency:
        if record.rate is not None and record.rate != 1:
            raise PortfolioError(
                "bad_rate",
                f"a transaction in {currency}, the portfolio's currency, has rate 1",
                field="rate",
                details=details,
            )
        currency = ""
    elif record.rate is not None:
        rate = record.rate
    else:
        try:
            rate = (rates or reference_rates()).rate(
                currency, portfolio.currency, record.time.date()
            )
        except NoRate as exc:
            raise PortfolioError(
                exc.code,
                f"{exc}: enter the rate of this transaction",
                field="rate",
                details=details,
            ) from None
        rate = rate.quantize(RATE_PLACES, rounding=ROUND_HALF_EVEN)
    return Transaction(
        portfolio=portfolio,
        kind=record.kind.value,
        instrument=instrument,
        quantity=record.quantity,
        price=record.price,
        fee=record.fee,
        currency=currency,
        rate=rate,
        time=record.time,
        note=record.note,
    )


def _locked(portfolio: Portfolio) -> Portfolio:
    """The portfolio row, locked: its changes are checked against one state at a time."""
    return Portfolio.objects.select_for_update().get(pk=portfolio.pk)


@transaction.atomic
def transaction_add(*, portfolio: Portfolio, record: Record) -> Transaction:
    """Add a checked transaction, if the portfolio's history still stands with it. After
    the last transaction (a new trade, a paper fill): O(log n) on the kept replay."""
    portfolio = _locked(portfolio)
    row = _row(portfolio, record, _instruments(portfolio, [record]))
    _clean(row)
    kept = KEPT.take(portfolio)
    row.save()
    tx = pure_transaction(row)

    def change() -> Replay:
        if kept.extends(tx):
            kept.append(tx)  # all or nothing: a refusal leaves it as it was
        else:
            kept.change(added=[tx])
        return kept

    _changed(portfolio, _replayed(portfolio, kept, change, changed=tx.ref))
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
    kept = KEPT.take(portfolio)
    tx = pure_transaction(row)
    _replayed(
        portfolio, kept, lambda: _changing(kept, removed=[tx.ref], added=[tx]), changed=tx.ref
    )
    row.save()
    _changed(portfolio, kept)
    return row


@transaction.atomic
def transaction_delete(*, transaction_row: Transaction) -> None:
    """Delete a transaction, if the history still stands without it (a buy whose shares
    were sold later cannot go: `insufficient_quantity`)."""
    portfolio = _locked(transaction_row.portfolio)
    kept = KEPT.take(portfolio)
    ref = str(transaction_row.pk)
    _replayed(portfolio, kept, lambda: _changing(kept, removed=[ref]))
    transaction_row.delete()
    _changed(portfolio, kept)


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
    rates = reference_rates()
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
        row = _row(portfolio, record, instruments, rates, index)
        row.import_key = key
        _clean(row)
        rows.append((index, row))
    kept = KEPT.take(portfolio)
    pending = [_pending(row, f"{IMPORT_REF}{index:06d}") for index, row in rows]
    _replayed(portfolio, kept, lambda: _changing(kept, added=pending))
    basis = Basis.of(kept.book)
    kept.change(removed=[t.ref for t in pending])  # as it was: it stood so before
    if not (commit and rows):
        KEPT.keep(portfolio, kept)
        return ImportResult(len(rows), len(records) - len(rows), basis)
    Transaction.objects.bulk_create([row for _, row in rows])
    # The kept replay names transactions by their ids: added again once they have them.
    kept.change(added=[pure_transaction(row) for _, row in rows])
    _changed(portfolio, kept)
    return ImportResult(len(rows), len(records) - len(rows), basis)
