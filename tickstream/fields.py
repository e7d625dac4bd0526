"""`ExactDecimalField`: the one column type of every money, price and quantity, exact on
every database tickstream runs on.

PostgreSQL's `numeric` is exact. SQLite has no decimal type: Django declares its decimal
columns `decimal`, which gives them NUMERIC affinity, and SQLite turns a number's text into
a REAL with 15 significant digits on the way in. `0.0000000001` added to 100,000 is lost
there, and so is the 16th digit of an order's reservation.

On SQLite this field stores the decimal's text in a TEXT column, exactly as PostgreSQL
would keep it (rounded half away from zero to the column's places; too many digits are a
`DataError`, as PostgreSQL's overflow is). So that comparisons in SQL (check constraints,
filters, ordering) stay numeric, the column compares with the `decimal` collation, which
every tickstream connection to SQLite registers: it compares the two texts as decimals.
SQL arithmetic (`SUM`, `F() + 1`) on such a column is not exact on SQLite and is not used.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Context, Decimal, InvalidOperation
from typing import Any

from django.db import DataError, models
from django.db.backends.signals import connection_created

COLLATION = "decimal"
_WIDE = Context(prec=60)  # wide enough for any column's digits
_LEGACY = Context(prec=15)  # what a REAL of SQLite holds


def compare_decimal_texts(a: str, b: str) -> int:
    """The `decimal` collation: -1, 0 or 1 as the texts' numbers compare. Texts that are not
    numbers (never written by this field) sort after numbers, by their text."""
    try:
        x, y = Decimal(a), Decimal(b)
    except (InvalidOperation, TypeError):
        return (a > b) - (a < b)
    if x.is_nan() or y.is_nan():
        return (a > b) - (a < b)
    return (x > y) - (x < y)


def _register_collation(sender: Any, connection: Any, **kwargs: Any) -> None:
    if connection.vendor == "sqlite":
        connection.connection.create_collation(COLLATION, compare_decimal_texts)


connection_created.connect(_register_collation, dispatch_uid="tickstream-decimal-collation")


class ExactDecimalField(models.DecimalField):  # type: ignore[type-arg]
    """A `DecimalField` that keeps every digit its `max_digits` and `decimal_places` allow,
    on SQLite as on PostgreSQL."""

    def get_internal_type(self) -> str:
        # Not "DecimalField": Django's SQLite backend would read the column through a float.
        return "ExactDecimalField"

    def db_type(self, connection: Any) -> str:
        if connection.vendor == "sqlite":
            return f"text COLLATE {COLLATION}"
        return str(connection.data_types["DecimalField"] % self.db_type_parameters(connection))

    def cast_db_type(self, connection: Any) -> str:
        return self.db_type(connection)

    def get_db_prep_value(self, value: Any, connection: Any, prepared: bool = False) -> Any:
        if connection.vendor != "sqlite":
            return super().get_db_prep_value(value, connection, prepared)
        if not prepared:
            value = self.get_prep_value(value)
        if value is None:
            return None
        return self.column_text(value)

    def column_text(self, value: Decimal) -> str:
        """The text SQLite keeps for `value`: PostgreSQL's `numeric(max_digits,
        decimal_places)` value of it, written out in full."""
        places = Decimal(1).scaleb(-self.decimal_places)
        try:
            kept = value.quantize(places, rounding=ROUND_HALF_UP, context=_WIDE)
        except InvalidOperation:
            kept = None
        if kept is None or kept.adjusted() >= self.max_digits - self.decimal_places:
            raise DataError(
                f"{value} does not fit {self.max_digits} digits with {self.decimal_places} decimals"
            )
        return format(kept, "f")

    def from_db_value(self, value: Any, expression: Any, connection: Any) -> Decimal | None:
        """A column's value as a `Decimal` (text on SQLite; a legacy number read as text)."""
        if value is None or isinstance(value, Decimal):
            return value
        if isinstance(value, float):  # a row written before the column was text
            return _LEGACY.create_decimal_from_float(value).quantize(
                Decimal(1).scaleb(-self.decimal_places), context=_WIDE
            )
        return Decimal(str(value))
