"""Reads of market data."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from itertools import chain
from typing import Any, TypeVar

from django.db.models import Count, Max, Model, QuerySet

from tickstream.market.core.analytics.candles import Candle as PureCandle
from tickstream.market.core.analytics.indicators import IndicatorSpec
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.analytics.quote import DAY_NS
from tickstream.market.core.analytics.quote import Quote as PureQuote
from tickstream.market.core.analytics.state import CandleSeries
from tickstream.market.core.fx import Fixing, Rates, bundled_history, read_history
from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.messages import values_dict
from tickstream.market.core.ticks import datetime_to_ns
from tickstream.market.core.validation import require_prices
from tickstream.market.models import (
    Candle,
    Cryptocurrency,
    Instrument,
    Quote,
    ReferenceRate,
    plain,
)

log = logging.getLogger(__name__)


def instrument_specs(*, active_only: bool = False) -> list[InstrumentSpec]:
    """Every instrument as the market core sees it."""
    qs = Instrument.objects.all()
    if active_only:
        qs = qs.filter(active=True)
    return [i.spec() for i in qs]


def user_can_publish_ticks(user: Any) -> bool:
    """Whether a user may push ticks (HTTP ingest, `ws/stock_updates/`)."""
    return bool(user and user.is_authenticated and user.has_perm("market.publish_ticks"))


def instrument_list(
    *, kind: str | None = None, search: str | None = None, active: bool | None = None
) -> QuerySet[Instrument]:
    qs = Instrument.objects.all()
    if kind:
        qs = qs.filter(kind=kind)
    if active is not None:
        qs = qs.filter(active=active)
    if search:
        qs = qs.filter(symbol__icontains=search) | qs.filter(name__icontains=search)
    return qs.order_by("symbol")


async def instrument_is_active(symbol: str) -> bool:
    """Whether an active instrument has this symbol (for the Hubs, from async code)."""
    return await Instrument.objects.filter(symbol=symbol, active=True).aexists()


def active_symbols() -> list[str]:
    return list(Instrument.objects.filter(active=True).values_list("symbol", flat=True))


def instrument_by_name_or_symbol(text: str, kind: str) -> Instrument | None:
    """An active instrument of `kind` named by `text`: its symbol, the symbol with `-USD`
    (`BTC` for `BTC-USD`), or its name, ignoring case."""
    qs = Instrument.objects.filter(kind=kind, active=True)
    wanted = text.strip()
    for lookup in (
        {"symbol__iexact": wanted},
        {"symbol__iexact": f"{wanted}-USD"},
        {"name__iexact": wanted},
    ):
        found = qs.filter(**lookup).first()
        if found is not None:
            return found
    return None


def stored_crypto_price(instrument: Instrument) -> dict[str, Any] | None:
    """The latest stored price of a crypto in the tutorial's shape (name, price, timestamp)."""
    row = Cryptocurrency.objects.filter(instrument=instrument).order_by("-timestamp").first()
    if row is None:
        return None
    return {
        "name": row.name,
        "price": format(row.price.normalize(), "f"),
        "timestamp": str(row.timestamp),
    }


def instrument_by_symbol(symbol: str) -> Instrument | None:
    return Instrument.objects.filter(symbol=symbol).first()


def quote_currencies() -> dict[str, str]:
    """Every instrument's symbol and the currency it is quoted in (O(instruments): what a
    file of transactions is checked against in one pass)."""
    rows = Instrument.objects.values_list("symbol", "quote_currency")
    return dict(rows)


def instruments_by_symbol(symbols: list[str]) -> dict[str, Instrument]:
    return {i.symbol: i for i in Instrument.objects.filter(symbol__in=symbols)}


def quote_list(*, symbols: list[str] | None = None) -> QuerySet[Quote]:
    qs = Quote.objects.select_related("instrument").order_by("instrument__symbol")
    if symbols:
        qs = qs.filter(instrument__symbol__in=symbols)
    return qs


def candle_page(
    *,
    instrument: Instrument,
    interval: str,
    start: datetime | None,
    end: datetime | None,
    limit: int,
) -> tuple[list[Candle], bool]:
    """The newest `limit` candles with start in [start, end), oldest first, and whether
    older ones remain in the range."""
    qs = Candle.objects.filter(instrument=instrument, interval=interval)
    if start is not None:
        qs = qs.filter(start__gte=start)
    if end is not None:
        qs = qs.filter(start__lt=end)
    rows = list(qs.order_by("-start")[: limit + 1])
    more = len(rows) > limit
    return rows[:limit][::-1], more


def with_indicators(
    rows: Sequence[Candle],
    warmup: Sequence[Candle],
    interval: Interval,
    specs: Sequence[IndicatorSpec],
) -> list[dict[str, float | None]]:
    """Indicator values at each of `rows` (oldest first), computed by the same engine as the
    live stream after folding the older closed `warmup` candles in: final values at closed
    candles, provisional ones at the forming candle."""
    series = CandleSeries(interval, specs)
    for row in warmup:
        series.fold(pure_candle(row))
    values: list[dict[str, float | None]] = []
    for row in rows:
        if row.closed:
            values.append(values_dict(series.fold(pure_candle(row)).values))
        else:
            series.builder.forming = pure_candle(row)
            values.append(values_dict(series.provisional()))
    return values


def pure_candle(row: Candle) -> PureCandle:
    """A stored candle as the core's candle (the column's padding dropped)."""
    return PureCandle(
        datetime_to_ns(row.start),
        plain(row.open),
        plain(row.high),
        plain(row.low),
        plain(row.close),
        plain(row.volume),
        row.trades,
    )


def stored_market_state(
    intervals: list[str], depth: int, symbols: Collection[str] | None = None
) -> Iterator[tuple[str, PureQuote | None, dict[str, tuple[list[PureCandle], PureCandle | None]]]]:
    """Per symbol: today's stored quote (as the core's Quote, previous sessions roll into
    its previous close) and per interval the newest `depth` closed candles plus the
    forming one. Every symbol stored, or those of `symbols`.

    A stored row that cannot be read, or holds a value no tick could carry, is reported
    and skipped: one bad row never stops a start.
    """
    now_day = int(time.time()) // 86_400
    instruments = Instrument.objects.all()
    quote_rows = Quote.objects.select_related("instrument")
    if symbols is not None:
        instruments = instruments.filter(symbol__in=list(symbols))
        quote_rows = quote_rows.filter(instrument__symbol__in=list(symbols))
    quotes = dict(
        _readable(
            quote_rows,
            lambda q: (q.instrument.symbol, _checked(_pure_quote(q, now_day))),
            "quote",
        )
    )
    for instrument in instruments:
        quote = quotes.get(instrument.symbol)
        series = {}
        for interval in intervals:
            qs = Candle.objects.filter(instrument=instrument, interval=interval).order_by("-start")[
                : depth + 1
            ]
            rows = _readable(qs, lambda r: (r.closed, _checked_candle(pure_candle(r))), "candle")
            forming = next((c for closed, c in rows if not closed), None)
            history = [c for closed, c in reversed(rows) if closed][-depth:]
            series[interval] = (history, forming)
        if quote is not None or any(h or f for h, f in series.values()):
            yield instrument.symbol, quote, series


def _pure_quote(row: Quote, now_day: int) -> PureQuote:
    ts = datetime_to_ns(row.time)
    if ts // DAY_NS != now_day:  # an earlier session: its last price is the previous close now
        return PureQuote(row.instrument.symbol, prev_close=plain(row.last))
    return PureQuote(
        row.instrument.symbol,
        plain(row.last),
        plain(row.open),
        plain(row.high),
        plain(row.low),
        plain(row.volume),
        (row.vwap or row.last) * row.volume,
        row.trades,
        None if row.prev_close is None else plain(row.prev_close),
        ts,
        ts // DAY_NS,
        row.source,
    )


def _checked(quote: PureQuote) -> PureQuote:
    require_prices(quote.last, quote.open, quote.high, quote.low, quote.prev_close)
    return quote


def _checked_candle(candle: PureCandle) -> PureCandle:
    require_prices(candle.open, candle.high, candle.low, candle.close)
    if not candle.volume.is_finite() or candle.volume < 0:
        raise ValueError(f"volume {candle.volume}")
    return candle


_T = TypeVar("_T")
_M = TypeVar("_M", bound=Model)


def _readable(qs: QuerySet[_M], convert: Callable[[_M], _T], what: str) -> list[_T]:
    """`convert` of every row of `qs`; a row that cannot be read or converted is logged
    and left out (the query is read row by row only when reading it whole fails)."""
    try:
        return [convert(row) for row in qs]
    except (ValueError, ArithmeticError, OverflowError, TypeError):
        pass
    out = []
    for pk in list(qs.values_list("pk", flat=True)):
        try:
            out.append(convert(qs.model.objects.get(pk=pk)))
        except (ValueError, ArithmeticError, OverflowError, TypeError) as exc:
            log.warning("stored %s %s cannot be restored and is skipped: %s", what, pk, exc)
    return out


_RATES_TTL_S = 600.0
_rates: tuple[float, Rates, tuple[int, Any]] | None = None


def reference_rates() -> Rates:
    """The reference rates: those bundled with the install (the ECB's history up to its
    release), and over them those stored by `rates_load` (newer days from the ECB, or a
    file): every install has every rate up to its release offline, and a refresh adds the
    rest. Read once per process, and again after `_RATES_TTL_S` if the stored ones
    changed (a refresh by another process shows within that) or at once after a load in
    this one."""
    global _rates
    now = time.monotonic()
    if _rates is not None and now - _rates[0] < _RATES_TTL_S:
        return _rates[1]
    stored = ReferenceRate.objects.order_by().aggregate(n=Count("id"), last=Max("day"))
    mark = (stored["n"], stored["last"])
    if _rates is not None and _rates[2] == mark:  # nothing new: keep the table
        _rates = (now, _rates[1], mark)
        return _rates[1]
    rows = ReferenceRate.objects.order_by().values_list("day", "currency", "per_euro")
    stored = (Fixing(d, c, plain(r)) for d, c, r in rows.iterator(chunk_size=10_000))
    table = Rates(chain(_bundled(), stored))
    _rates = (now, table, mark)
    return table


@functools.cache
def _bundled() -> tuple[Fixing, ...]:
    return tuple(read_history(bundled_history()))


def reference_rates_forget() -> None:
    global _rates
    _rates = None
