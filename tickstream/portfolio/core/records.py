"""A transaction as a user writes it, checked field by field (pure): the one set of rules
the API, the pages and CSV import share. Every problem names its field and has a code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from tickstream.market.core import numbers
from tickstream.portfolio.core.costbasis import Kind

PLACES = 10  # the store's decimals
MAX_AMOUNT = Decimal(10) ** 15  # quantities and cash amounts
MAX_PRICE = Decimal(10) ** 12  # prices and fees (the market's bound on a price)
MAX_TEXT = 64  # characters of a time before it is parsed
MAX_NOTE = 500
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
TRADES = frozenset({Kind.BUY, Kind.SELL, Kind.SPLIT})


class FieldError(ValueError):
    """One field that cannot be taken; `code` and `field` say which and why."""

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Record:
    """A checked transaction: decimals exact, time aware and in UTC, symbol upper-case."""

    time: datetime
    kind: Kind
    symbol: str
    quantity: Decimal
    price: Decimal
    fee: Decimal
    note: str = ""

    def digest(self, occurrence: int = 0) -> str:
        """A key of the record's content (and of which same record in a file it is), so
        importing a file twice adds nothing the second time."""
        text = "|".join(
            [
                self.time.isoformat(),
                self.kind.value,
                self.symbol,
                format(self.quantity.normalize(), "f"),
                format(self.price.normalize(), "f"),
                format(self.fee.normalize(), "f"),
                self.note,
                str(occurrence),
            ]
        )
        return hashlib.sha256(text.encode()).hexdigest()


def amount(
    field: str,
    value: Any,
    *,
    required: bool = True,
    positive: bool = False,
    bound: Decimal = MAX_AMOUNT,
) -> Decimal:
    """A decimal of the one grammar (`numbers.parse_decimal`: text or an exact JSON
    number, never a float): >= 0 (> 0 with `positive`), below `bound`, at most ten
    decimals. Missing or blank is `required` (a form's empty field)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field, "required", f"{field} is required")
        return Decimal(0)
    try:
        number = numbers.parse_decimal(value)
    except numbers.NumberError as exc:
        raise FieldError(field, "bad_number", f"{field}: {exc}") from None
    if number < 0 or (positive and number == 0):
        least = "above zero" if positive else "zero or more"
        raise FieldError(field, "out_of_range", f"{field} must be {least}")
    if number >= bound:
        raise FieldError(field, "out_of_range", f"{field} must be below {bound:,.0f}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PLACES:
        raise FieldError(field, "too_precise", f"{field} has more than {PLACES} decimals")
    return number


def when(field: str, value: Any, now: datetime) -> datetime:
    """An ISO 8601 time (a date alone is midnight UTC; no offset means UTC), from 1900 up
    to `now`: a transaction cannot be in the future."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0), UTC)
    elif isinstance(value, str) and 0 < len(value.strip()) <= MAX_TEXT:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(field, "bad_time", f"{field} is not an ISO 8601 time") from None
    else:
        raise FieldError(field, "bad_time", f"{field} must be an ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment < EARLIEST:
        raise FieldError(field, "bad_time", f"{field} is before 1900")
    if moment > now:
        raise FieldError(field, "future_time", f"{field} is in the future")
    return moment


def text(data: dict[str, Any], field: str) -> str:
    """A text field: absent or null is empty; anything but a string is refused."""
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(field, f"bad_{field}", f"{field} must be text")
    return value


def record(data: dict[str, Any], now: datetime) -> Record:
    """Check a transaction's fields; raises FieldError on the first bad one."""
    raw_kind = text(data, "kind")
    try:
        kind = Kind(raw_kind.strip().lower())
    except ValueError:
        kinds = ", ".join(k.value for k in Kind)
        raise FieldError("kind", "bad_kind", f"kind must be one of {kinds}") from None
    moment = when("time", data.get("time"), now)
    symbol = text(data, "symbol").strip().upper()
    if len(symbol) > 32:
        raise FieldError("symbol", "unknown_symbol", "symbol is longer than 32 characters")
    if kind in TRADES and not symbol:
        raise FieldError("symbol", "required", f"a {kind.value} needs a symbol")
    if kind in {Kind.DEPOSIT, Kind.WITHDRAWAL, Kind.FEE} and symbol:
        raise FieldError("symbol", "unexpected", f"a {kind.value} has no symbol")
    quantity = amount("quantity", data.get("quantity"), positive=True)
    trade = kind in {Kind.BUY, Kind.SELL}
    price = amount("price", data.get("price"), required=trade, positive=trade, bound=MAX_PRICE)
    if not trade and price != 0:
        raise FieldError("price", "unexpected", f"a {kind.value} has no price")
    fee = amount("fee", data.get("fee"), required=False, bound=MAX_PRICE)
    if kind is Kind.SPLIT and fee != 0:
        raise FieldError("fee", "unexpected", "a split has no fee")
    note = text(data, "note")
    if len(note) > MAX_NOTE or any(ord(c) < 32 and c not in "\t" for c in note):
        raise FieldError("note", "bad_note", f"note must be one line of at most {MAX_NOTE}")
    return Record(moment, kind, symbol, quantity, price, fee, note)
