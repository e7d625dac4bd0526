"""A transaction as a user writes it, checked field by field (pure): the one set of rules
the API, the pages and CSV import share. Every problem names its field and has a code."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from tickstream.common.core.edge import (
    MAX_PRICE,
    FieldError,
    NumberError,
    amount,
    parse_decimal,
    text,
    when,
)
from tickstream.portfolio.core.costbasis import Kind

MAX_NOTE = 500
TRADES = frozenset({Kind.BUY, Kind.SELL, Kind.SPLIT})
RATE_PLACES = 16
MAX_RATE = Decimal(10) ** 6  # units of one currency in another: far above any real one


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
    currency: str = ""  # of price, fee and amount: "" is the instrument's or portfolio's
    rate: Decimal | None = None  # in the portfolio's currency; None: the day's reference

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
        if self.currency or self.rate is not None:  # the keys of files before currencies stay
            rate = "" if self.rate is None else format(self.rate.normalize(), "f")
            text += f"|{self.currency}|{rate}"
        return hashlib.sha256(text.encode()).hexdigest()


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
    if kind in {Kind.DEPOSIT, Kind.WITHDRAWAL, Kind.FEE, Kind.INTEREST} and symbol:
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
    currency = text(data, "currency").strip().upper()
    if currency and not (len(currency) == 3 and currency.isascii() and currency.isalpha()):
        raise FieldError("currency", "bad_currency", "currency is a three-letter code (EUR)")
    return Record(moment, kind, symbol, quantity, price, fee, note, currency, rate_of(data))


def rate_of(data: dict[str, Any]) -> Decimal | None:
    """The optional `rate`: units of the portfolio's currency per unit of the
    transaction's, above zero, at most 16 decimals."""
    value = data.get("rate")
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = parse_decimal(value)
    except NumberError as exc:
        raise FieldError("rate", "bad_number", f"rate: {exc}") from None
    if number <= 0 or number >= MAX_RATE:
        raise FieldError("rate", "out_of_range", f"rate must be above zero and below {MAX_RATE:,}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -RATE_PLACES:
        raise FieldError("rate", "too_precise", f"rate has more than {RATE_PLACES} decimals")
    return number
