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

# A row to write: its model and its values, in the order of `_COLUMNS[model]`.
Row = tuple[type[models.Model], tuple[Any, ...]]
_Builder = Callable[[Any, dict[str, int]], list[Row]]

_CANDLE_FIELDS = ["open", "high", "low", "close", "volume", "trades", "closed"]
_QUOTE_FIELDS = [
    *("last", "open", "high", "low", "prev_close", "volume", "vwap", "trades", "time", "source")
]
# The columns each model's rows carry (attribute names; an automatic primary key is left to
# the database).
_COLUMNS: dict[type[models.Model], list[str]] = {
    Candle: [
        *("instrument_id", "interval", "start", "open", "high", "low", "close", "volume"),
        *("trades", "closed"),
    ],
    Quote: ["instrument_id", *_QUOTE_FIELDS],
    Cryptocurrency: ["name", "instrument_id", "price", "timestamp"],
    Trade: ["instrument_id", "price", "size", "ts_event", "ts_recv", "source", "trade_id"],
}


class BatchStore:
    """Writes batches; knows instrument ids by symbol and learns new ones as they appear."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._crypto_names: dict[str, str] = {}
        self._time: Callable[[int], Any] = ns_to_datetime

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
        self._time = time_param(connections["default"])
        symbols = {row.symbol for row in batch.candles} | {row.symbol for row in batch.quotes}
        symbols |= {tick.symbol for tick in batch.ticks}
        ids = self._instrument_ids(symbols)
        rows: list[Row] = []
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

    def _save_each(self, rows: list[Row]) -> int:
        refused = 0
        with transaction.atomic():
            for row in rows:
                try:
                    with transaction.atomic():
                        _save([row])
                except (DataError, IntegrityError) as exc:
                    refused += 1
                    model, values = row
                    log.warning(
                        "the database refused a %s (%s): %r",
                        model.__name__,
                        exc,
                        dict(zip(_COLUMNS[model], values, strict=True)),
                    )
        return refused

    def _candle(self, c: CandleRow, ids: dict[str, int]) -> list[Row]:
        values = (
            ids[c.symbol],
            c.interval,
            self._time(c.start),
            _fit(c.open, PRICE),
            _fit(c.high, PRICE),
            _fit(c.low, PRICE),
            _fit(c.close, PRICE),
            _fit(c.volume, QUANTITY),
            c.trades,
            c.closed,
        )
        return [(Candle, values)]

    def _quote(self, q: QuoteRow, ids: dict[str, int]) -> list[Row]:
        time = self._time(q.time)
        last = _fit(q.last, PRICE)
        out: list[Row] = [
            (
                Quote,
                (
                    ids[q.symbol],
                    last,
                    _fit(q.open, PRICE),
                    _fit(q.high, PRICE),
                    _fit(q.low, PRICE),
                    None if q.prev_close is None else _fit(q.prev_close, PRICE),
                    _fit(q.volume, QUANTITY),
                    None if q.vwap is None else _fit(q.vwap, PRICE),
                    q.trades,
                    time,
                    q.source[:32],
                ),
            )
        ]
        if q.symbol in self._crypto_names:
            out.append((Cryptocurrency, (self._crypto_names[q.symbol], ids[q.symbol], last, time)))
        return out

    def _trade(self, t: Tick, ids: dict[str, int]) -> list[Row]:
        values = (
            ids[t.symbol],
            _fit(t.price, PRICE),
            _fit(t.size, QUANTITY),
            self._time(t.ts_event),
            self._time(t.ts_recv),
            t.source[:32],
            t.trade_id or "",
        )
        return [(Trade, values)]


def time_param(connection: Any) -> Callable[[int], Any]:
    """A time in ns as the database's driver takes a `DateTimeField` value: an aware UTC
    datetime (PostgreSQL), or the naive UTC text Django's SQLite backend writes
    (`2026-01-02 03:04:05.123456`)."""
    if connection.vendor == "sqlite":
        return lambda ns: ns_to_datetime(ns).replace(tzinfo=None).isoformat(" ")
    return ns_to_datetime


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


def _save(rows: list[Row]) -> None:
    """Write rows grouped by model: one `executemany` of an upsert (`INSERT ... ON CONFLICT
    DO UPDATE`, on SQLite and PostgreSQL alike) or a plain insert per model, without the
    ORM's per-object work (no model instances, no primary keys read back). Decimals go to
    the driver as they are: psycopg and Django's SQLite adapter write them exactly."""
    by_model: dict[type[models.Model], list[tuple[Any, ...]]] = {}
    for model, values in rows:
        by_model.setdefault(model, []).append(values)
    connection = connections["default"]
    with connection.cursor() as cursor:
        for model, upsert in _UPSERTS.items():
            params = by_model.get(model)
            if not params:
                continue
            if upsert is None and connection.vendor == "postgresql":
                _copy(cursor.cursor, model, params, connection)
            else:
                cursor.executemany(_statement(model, upsert, connection), params)


def _copy(
    cursor: Any, model: type[models.Model], params: list[tuple[Any, ...]], connection: Any
) -> None:
    """Plain inserts on PostgreSQL: one `COPY ... FROM STDIN` (psycopg adapts each value)."""
    meta = model._meta
    q = connection.ops.quote_name
    columns = ", ".join(q(meta.get_field(name).column) for name in _COLUMNS[model])
    sql = f"COPY {q(meta.db_table)} ({columns}) FROM STDIN"
    with connection.wrap_database_errors, cursor.copy(sql) as copy:  # Django's errors
        for values in params:
            copy.write_row(values)


_STATEMENTS: dict[tuple[str, type[models.Model]], str] = {}


def _statement(
    model: type[models.Model], upsert: tuple[list[str], list[str]] | None, connection: Any
) -> str:
    """The insert (or upsert) of one row of `model` with the values of `_COLUMNS[model]`."""
    key = (connection.vendor, model)
    cached = _STATEMENTS.get(key)
    if cached is not None:
        return cached
    meta = model._meta
    q = connection.ops.quote_name

    def column(name: str) -> str:
        return q(meta.get_field(name).column)

    names = _COLUMNS[model]
    columns = ", ".join(column(name) for name in names)
    values = ", ".join(["%s"] * len(names))
    # Names from the models' metadata, quoted; every value is a parameter.
    sql = f"INSERT INTO {q(meta.db_table)} ({columns}) VALUES ({values})"  # noqa: S608
    if upsert is not None:
        unique, update = upsert
        conflict = ", ".join(column(name) for name in unique)
        changes = ", ".join(f"{column(name)} = EXCLUDED.{column(name)}" for name in update)
        sql += f" ON CONFLICT ({conflict}) DO UPDATE SET {changes}"
    _STATEMENTS[key] = sql
    return sql
