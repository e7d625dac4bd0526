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
    amount,
    text,
    when,
)
from tickstream.portfolio.core.costbasis import Kind

MAX_NOTE = 500
TRADES = frozenset({Kind.BUY, Kind.SELL, Kind.SPLIT})


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
