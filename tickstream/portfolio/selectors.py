"""Reads of portfolios: always through their owner, so another user's is never found."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import UTC, date, datetime, timedelta
from decimal import Context, Decimal
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet

from tickstream.market.core.fx import NoRate
from tickstream.market.core.ticks import datetime_to_iso
from tickstream.market.models import Candle, Instrument, Quote
from tickstream.market.selectors import reference_rates
from tickstream.portfolio.core import costbasis as core
from tickstream.portfolio.core.history import Closes, DayValue, Returns, period_returns, values_from
from tickstream.portfolio.core.income import Income, income
from tickstream.portfolio.core.records import Record
from tickstream.portfolio.core.taxlots import Report as TaxReport
from tickstream.portfolio.core.taxlots import report as tax_report
from tickstream.portfolio.core.valuation import Basis, Rate, Valuation, fx_legs
from tickstream.portfolio.kept import KEPT
from tickstream.portfolio.models import Portfolio, Transaction
from tickstream.portfolio.shapes import HEADER

PERIODS = ("1D", "1M", "YTD", "1Y", "ALL")
RATE_DIGITS = Context(prec=12)  # a valuation's rates (core.valuation._RATE)
HISTORY_DAYS = 366 * 30  # the longest value history one request gives


def portfolio_list(*, user: Any) -> QuerySet[Portfolio]:
    """The user's portfolios (none for an anonymous user)."""
    if not getattr(user, "is_authenticated", False):
        return Portfolio.objects.none()
    return Portfolio.objects.filter(owner=user).select_related("benchmark")


def portfolio_get(*, user: Any, portfolio_id: Any) -> Portfolio:
    """The user's portfolio with this id; Portfolio.DoesNotExist for anyone else's."""
    return portfolio_list(user=user).get(pk=portfolio_id)


def transaction_list(*, portfolio: Portfolio) -> QuerySet[Transaction]:
    return portfolio.transactions.select_related("instrument").order_by("time", "id")


PAGE_MAX = 1000


def transaction_page(
    *,
    portfolio: Portfolio,
    limit: int,
    newest_first: bool = False,
    after: tuple[datetime, int] | None = None,
) -> tuple[list[Transaction], tuple[datetime, int] | None]:
    """At most `limit` transactions in trade-time order (or newest first), after the
    position `after` (the (time, id) of the last one of the previous page), and where the
    next page starts (None on the last). Keyset paging on the (portfolio, time) index:
    O(limit + log n) whatever the page."""
    rows = portfolio.transactions.select_related("instrument")
    if after is not None:
        time, pk = after
        if newest_first:
            rows = rows.filter(Q(time__lt=time) | Q(time=time, id__lt=pk))
        else:
            rows = rows.filter(Q(time__gt=time) | Q(time=time, id__gt=pk))
    order = ("-time", "-id") if newest_first else ("time", "id")
    page = list(rows.order_by(*order)[: limit + 1])
    if len(page) <= limit:
        return page, None
    last = page[limit - 1]
    return page[:limit], (last.time, last.pk)


def transaction_get(*, portfolio: Portfolio, transaction_id: Any) -> Transaction:
    return portfolio.transactions.select_related("instrument").get(pk=transaction_id)


def record_of(row: Transaction) -> Record:
    """A stored transaction as its CSV row."""
    return Record(
        row.time.astimezone(UTC),
        core.Kind(row.kind),
        row.instrument.symbol if row.instrument_id else "",
        row.quantity,
        row.price,
        row.fee,
        row.note,
        row.currency,
        row.rate if row.currency else None,
    )


def portfolio_basis(portfolio: Portfolio) -> Basis:
    """What the transactions add up to, from the kept replay (O(holdings) when kept)."""
    with KEPT.reading(portfolio) as replay:
        return Basis.of(replay.book)


def fx_pairs() -> dict[str, tuple[str, str]]:
    """The exchange-rate instruments: symbol -> (its base currency, its quote currency)."""
    rows = Instrument.objects.filter(kind=Instrument.Kind.FX).values_list(
        "symbol", "quote_currency"
    )
    return {s: (s.split("-", 1)[0], quote) for s, quote in rows if "-" in s}


def portfolio_rates(portfolio: Portfolio, currencies: Iterable[str]) -> list[Rate]:
    """How each of `currencies` is valued in the portfolio's: the exchange-rate
    instruments leading to it, and the latest reference rate until they have prices."""
    wanted = sorted(set(currencies) - {portfolio.currency})
    if not wanted:
        return []
    table, pairs = reference_rates(), fx_pairs()
    day = table.latest_day() or datetime.now(UTC).date()
    out = []
    for currency in wanted:
        try:
            fallback = RATE_DIGITS.plus(table.rate(currency, portfolio.currency, day))
        except NoRate:
            fallback = None
        legs = fx_legs(currency, portfolio.currency, pairs)
        if fallback is None and not legs:
            continue  # never: a transaction in a currency without rates is refused
        out.append(Rate(currency, fallback or Decimal(1), legs))
    return out


def portfolio_valuation(portfolio: Portfolio) -> Valuation:
    """The portfolio at the latest stored prices."""
    basis = portfolio_basis(portfolio)
    valuation = Valuation(
        basis,
        header=HEADER.dump(portfolio),
        rates=portfolio_rates(portfolio, basis.currencies()),
    )
    quotes = Quote.objects.filter(instrument__symbol__in=valuation.symbols()).select_related(
        "instrument"
    )
    for q in quotes:
        valuation.mark(q.instrument.symbol, q.last, q.reference, datetime_to_iso(q.time))
    return valuation


def daily_closes(symbols: set[str], start: date, end: date) -> Closes:
    """Per symbol, the stored daily closes up to `end` (with the last one before `start`)."""
    out: dict[str, list[tuple[date, Decimal]]] = {s: [] for s in symbols}
    rows = (
        Candle.objects.filter(
            instrument__symbol__in=symbols,
            interval="1d",
            start__lt=datetime.combine(end + timedelta(days=1), datetime.min.time(), UTC),
        )
        .order_by("instrument__symbol", "start")
        .values_list("instrument__symbol", "start", "close")
    )
    for symbol, start_at, close in rows:
        out[symbol].append((start_at.astimezone(UTC).date(), close))
    return out


def portfolio_history(
    portfolio: Portfolio, *, start: date | None = None, end: date | None = None
) -> list[DayValue]:
    """The portfolio's value at each day's end, from its first transaction (or `start`):
    from the kept replay's timeline and the stored daily closes, O(days x holdings)."""
    start, end = history_range(portfolio, start=start, end=end)
    with KEPT.reading(portfolio) as replay:
        symbols = set(replay.symbols)
    closes = daily_closes(symbols, start, end)
    rate_of = daily_rates(portfolio.currency)
    with KEPT.reading(portfolio) as replay:
        return values_from(replay.timeline, closes, start, end, rate_of)


def daily_rates(base: str) -> Callable[[str, date], Decimal]:
    """A currency's reference rate in `base` on a day (the last fixing on or before it;
    before a currency's first fixing, its first)."""
    table = reference_rates()

    def rate_of(currency: str, day: date) -> Decimal:
        try:
            return table.rate(currency, base, day)
        except NoRate:
            firsts = [table.first_day(c) for c in (currency, base) if c != "EUR"]
            first = max((d for d in firsts if d is not None), default=None)
            if first is None or first <= day:
                raise
            return table.rate(currency, base, first)

    return rate_of


def history_range(
    portfolio: Portfolio, *, start: date | None = None, end: date | None = None
) -> tuple[date, date]:
    """The days a history covers: from `start` to `end` (or today; never after today).
    Without `start`, from the first transaction's day, or HISTORY_DAYS before `end` if
    that is later."""
    today = datetime.now(UTC).date()
    end = min(end or today, today)
    if start is None:
        with KEPT.reading(portfolio) as replay:
            first = replay.first_day or end
        start = max(first, end - timedelta(days=HISTORY_DAYS - 1))
    return start, end


def period_start(period: str, today: date, first: date | None) -> date:
    """The last day before the period: its value is the period's starting value."""
    if period == "1D":
        return today - timedelta(days=1)
    if period == "1M":  # the same day a month before, or that month's last day
        year, month = (today.year, today.month - 1) if today.month > 1 else (today.year - 1, 12)
        last = (date(year + month // 12, month % 12 + 1, 1) - timedelta(days=1)).day
        return date(year, month, min(today.day, last))
    if period == "YTD":
        return date(today.year - 1, 12, 31)
    if period == "1Y":
        return today - timedelta(days=365)
    return (first or today) - timedelta(days=1)


def portfolio_returns(portfolio: Portfolio, period: str) -> Returns:
    """Time- and money-weighted returns over a period (PERIODS) ending today."""
    today = datetime.now(UTC).date()
    with KEPT.reading(portfolio) as replay:
        first = replay.first_day
    start = period_start(period, today, first)
    return period_returns(portfolio_history(portfolio, start=start, end=today))


def benchmark_closes(portfolio: Portfolio, start: date, end: date) -> list[tuple[date, Decimal]]:
    """The benchmark's daily closes up to `end` (with the last before `start`), in the
    portfolio's currency at each day's reference rate; [] without a benchmark."""
    instrument = portfolio.benchmark
    if instrument is None:
        return []
    rows = daily_closes({instrument.symbol}, start, end)[instrument.symbol]
    if instrument.quote_currency == portfolio.currency:
        return list(rows)
    rate_of = daily_rates(portfolio.currency)
    return [(d, close * rate_of(instrument.quote_currency, d)) for d, close in rows]


def benchmark_return(portfolio: Portfolio, start: date, end: date) -> float | None:
    """The benchmark's return from the end of `start` to the end of `end` (its last
    closes on or before them, in the portfolio's currency); None without a benchmark or
    without a close by `start`."""
    closes = benchmark_closes(portfolio, start, end)
    first = [c for d, c in closes if d <= start]
    if not first or first[-1] <= 0:
        return None
    return float(closes[-1][1] / first[-1]) - 1.0


def cumulative(
    values: list[DayValue], closes: list[tuple[date, Decimal]]
) -> list[tuple[float, float | None]]:
    """Per day of `values`: the portfolio's time-weighted return since the first day (as
    `period_returns` chains it), and the benchmark's (None before it has a close), for a
    chart comparing the two."""
    out: list[tuple[float, float | None]] = []
    growth, previous = 1.0, None
    index, base, close = 0, None, None
    for v in values:
        if previous is not None:
            start = float(previous + v.flow)
            if start > 0:
                growth *= float(v.value) / start
        previous = v.value
        while index < len(closes) and closes[index][0] <= v.day:
            close = closes[index][1]
            index += 1
        if base is None and close is not None and close > 0:
            base = close
        bench = None if base is None or close is None else float(close / base) - 1.0
        out.append((growth - 1.0, bench))
    return out


def portfolio_transactions(portfolio: Portfolio) -> list[core.Transaction]:
    """Every transaction as the core takes it, from the kept replay (no read of its rows
    when kept; O(n) for the copy)."""
    with KEPT.reading(portfolio) as replay:
        return replay.transactions


def portfolio_income(portfolio: Portfolio) -> Income:
    """Dividends and interest by month and year, TTM, forward estimates (core.income)."""
    txs = portfolio_transactions(portfolio)
    valuation = portfolio_valuation(portfolio)  # today's rates: live, else the latest fixing
    rates = {c: valuation.rate(c) for c in {t.currency for t in txs if t.currency}}
    return income(txs, datetime.now(UTC).date(), rates)


def portfolio_tax_lots(portfolio: Portfolio, year: int | None, method: str) -> TaxReport:
    """The lots sold in `year` under `method` (the portfolio's own left as it is)."""
    return tax_report(
        portfolio_transactions(portfolio),
        method,
        year,
        long_term_days=settings.PORTFOLIO_LONG_TERM_DAYS,
    )
