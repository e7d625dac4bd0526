"""Writes a writer batch to the database: upserts of candles and quotes, inserts of ticks."""

from __future__ import annotations

import logging
from collections.abc import Callable
from decimal import Context, Decimal
from typing import Any

from django.db import (
    DataError,
    IntegrityError,
    close_old_connections,
    connections,
    models,
    transaction,
)

from tickstream.market.core.ticks import Tick, ns_to_datetime
from tickstream.market.models import (
    PRICE,
    QUANTITY,
    Candle,
    Cryptocurrency,
    Instrument,
    Quote,
    Trade,
)
from tickstream.market.writer import Batch, CandleRow, QuoteRow

log = logging.getLogger(__name__)

_Builder = Callable[[Any, dict[str, int]], list[models.Model]]

_CANDLE_FIELDS = ["open", "high", "low", "close", "volume", "trades", "closed"]
_QUOTE_FIELDS = [
    *("last", "open", "high", "low", "prev_close", "volume", "vwap", "trades", "time", "source")
]


class BatchStore:
    """Writes batches; knows instrument ids by symbol and learns new ones as they appear."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._crypto_names: dict[str, str] = {}

    def _instrument_ids(self, symbols: set[str]) -> dict[str, int]:
        missing = symbols - self._ids.keys()
        if missing:
            for symbol, pk, kind, name in Instrument.objects.filter(symbol__in=missing).values_list(
                "symbol", "id", "kind", "name"
            ):
                self._ids[symbol] = pk
                if kind == Instrument.Kind.CRYPTO:
                    self._crypto_names[symbol] = name
        return self._ids

    def close(self) -> None:
        """Close this thread's database connections (the writer calls it when stopping)."""
        connections.close_all()

    def __call__(self, batch: Batch) -> int:
        """Write a batch in one transaction; return how many rows were refused.

        A row that the columns cannot hold exactly (a value out of range, an unreadable
        number) is refused, logged and counted, never stored: what is written can always
        be read back. If the database still refuses the batch for its data, the rows are
        written one by one so one bad row costs only itself. A lost connection raises, and
        the writer retries the batch later.
        """
        close_old_connections()
        symbols = {row.symbol for row in batch.candles} | {row.symbol for row in batch.quotes}
        symbols |= {tick.symbol for tick in batch.ticks}
        ids = self._instrument_ids(symbols)
        rows: list[models.Model] = []
        refused = 0
        builders: list[tuple[str, _Builder, list[Any]]] = [
            ("candle", self._candle, batch.candles),
            ("quote", self._quote, batch.quotes),
            ("tick", self._trade, batch.ticks),
        ]
        for kind, build, items in builders:
            for item in items:
                try:
                    rows += build(item, ids) if item.symbol in ids else []
                except (ValueError, ArithmeticError, OverflowError, TypeError) as exc:
                    refused += 1
                    log.warning(
                        "refused to store a %s that cannot be kept (%s): %r", kind, exc, item
                    )
        try:
            with transaction.atomic():
                _save(rows)
        except (DataError, IntegrityError) as exc:
            log.warning("the database refused a batch (%s); writing it row by row", exc)
            refused += self._save_each(rows)
        return refused

    def _save_each(self, rows: list[models.Model]) -> int:
        refused = 0
        with transaction.atomic():
            for row in rows:
                try:
                    with transaction.atomic():
                        _save([row])
                except (DataError, IntegrityError) as exc:
                    refused += 1
                    log.warning("the database refused a row (%s): %r", exc, vars(row))
        return refused

    @staticmethod
    def _candle(c: CandleRow, ids: dict[str, int]) -> list[models.Model]:
        return [
            Candle(
                instrument_id=ids[c.symbol],
                interval=c.interval,
                start=ns_to_datetime(c.start),
                open=_fit(c.open, PRICE),
                high=_fit(c.high, PRICE),
                low=_fit(c.low, PRICE),
                close=_fit(c.close, PRICE),
                volume=_fit(c.volume, QUANTITY),
                trades=c.trades,
                closed=c.closed,
            )
        ]

    def _quote(self, q: QuoteRow, ids: dict[str, int]) -> list[models.Model]:
        time = ns_to_datetime(q.time)
        out: list[models.Model] = [
            Quote(
                instrument_id=ids[q.symbol],
                last=_fit(q.last, PRICE),
                open=_fit(q.open, PRICE),
                high=_fit(q.high, PRICE),
                low=_fit(q.low, PRICE),
                prev_close=None if q.prev_close is None else _fit(q.prev_close, PRICE),
                volume=_fit(q.volume, QUANTITY),
                vwap=None if q.vwap is None else _fit(q.vwap, PRICE),
                trades=q.trades,
                time=time,
                source=q.source[:32],
            )
        ]
        if q.symbol in self._crypto_names:
            out.append(
                Cryptocurrency(
                    name=self._crypto_names[q.symbol],
                    instrument_id=ids[q.symbol],
                    price=_fit(q.last, PRICE),
                    timestamp=time,
                )
            )
        return out

    @staticmethod
    def _trade(t: Tick, ids: dict[str, int]) -> list[models.Model]:
        return [
            Trade(
                instrument_id=ids[t.symbol],
                price=_fit(t.price, PRICE),
                size=_fit(t.size, QUANTITY),
                ts_event=ns_to_datetime(t.ts_event),
                ts_recv=ns_to_datetime(t.ts_recv),
                source=t.source[:32],
                trade_id=t.trade_id or "",
            )
        ]


def _fit(value: Decimal, column: dict[str, int]) -> Decimal:
    """The value as the column keeps it (rounded to its decimals), or ValueError when the
    column cannot hold it."""
    if not isinstance(value, Decimal) or not value.is_finite():
        raise ValueError(f"not a finite decimal: {value!r}")
    places = column["decimal_places"]
    if value.adjusted() >= column["max_digits"] - places:
        raise ValueError(f"{value} has more than {column['max_digits'] - places} integer digits")
    return value.quantize(Decimal(1).scaleb(-places), context=_WIDE)


_WIDE = Context(prec=60)


# How each model's rows are written: (unique fields, fields to update) of an upsert, or
# None for a plain insert. Order matters for nothing but readability.
_UPSERTS: dict[type[models.Model], tuple[list[str], list[str]] | None] = {
    Candle: (["instrument", "interval", "start"], _CANDLE_FIELDS),
    Quote: (["instrument"], _QUOTE_FIELDS),
    Cryptocurrency: (["instrument"], ["name", "price", "timestamp"]),
    Trade: None,
}


def _save(rows: list[models.Model]) -> None:
    by_model: dict[type[models.Model], list[models.Model]] = {}
    for row in rows:
        by_model.setdefault(type(row), []).append(row)
    for model, upsert in _UPSERTS.items():
        objs = by_model.get(model)
        if not objs:
            continue
        if upsert is None:
            model.objects.bulk_create(objs, batch_size=1000)
        else:
            unique, update = upsert
            model.objects.bulk_create(
                objs,
                batch_size=500,
                update_conflicts=True,
                unique_fields=unique,
                update_fields=update,
            )
