"""Reads of market data."""

from __future__ import annotations

from datetime import datetime

from django.db.models import QuerySet

from tickstream.market.instruments import InstrumentSpec
from tickstream.market.models import Candle, Instrument, Quote


def instrument_specs(*, active_only: bool = False) -> list[InstrumentSpec]:
    """Every instrument as the market core sees it."""
    qs = Instrument.objects.all()
    if active_only:
        qs = qs.filter(active=True)
    return [i.spec() for i in qs]


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
