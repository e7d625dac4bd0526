"""Brokers' transaction exports read as tickstream's CSV: Charles Schwab's and Fidelity's
history downloads, told apart by their header, turned into rows of `csvfile.COLUMNS`
that `csvfile.read` then checks like any file (so every problem keeps its row number in
the broker's file).

What each preset reads (the columns of the brokers' public CSV downloads):
- Schwab: `Date` (MM/DD/YYYY, "as of" dates ignored), `Action`, `Symbol`, `Quantity`,
  `Price`, `Fees & Comm`, `Amount` (with `$`, `,` and signs).
- Fidelity: `Run Date` (MM/DD/YYYY), `Action` ("YOU BOUGHT ...", "YOU SOLD ...",
  "DIVIDEND RECEIVED ...", transfers), `Symbol`, `Quantity` (negative for sales),
  `Price ($)` or `Price`, `Commission ($)` and `Fees ($)`, `Amount ($)`.
Rows of kinds tickstream does not track (interest, journals of securities, options...)
are skipped and counted by action, never guessed; lines before the header and after the
data (the brokers' titles and disclaimers) are not rows. O(the file).
"""

from __future__ import annotations

import csv
import io
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from tickstream.common.core.edge import NumberError, parse_decimal
from tickstream.portfolio.core.csvfile import COLUMNS

_DATE = re.compile(r"^\s*(\d{2})/(\d{2})/(\d{4})")


@dataclass(frozen=True)
class Preset:
    name: str
    label: str
    header: frozenset[str]  # the columns that tell the file apart
    date: str
    action: str
    symbol: str
    quantity: str
    price: tuple[str, ...]  # the first present
    fees: tuple[str, ...]  # summed
    amount: str
    kind: Callable[[str, str], str | None]  # (action, amount) -> our kind, or None: skip


@dataclass
class Translated:
    """A broker's file as tickstream's CSV (`text`), which preset read it, and the rows
    left out by action."""

    text: str
    preset: str
    skipped: Counter[str] = field(default_factory=Counter)


def _money_sign(amount: str) -> int:
    text = amount.strip()
    return -1 if text.startswith("-") or text.startswith("($") or text.startswith("(") else 1


def _schwab_kind(action: str, amount: str) -> str | None:
    a = action.strip().lower()
    if a in {"buy", "reinvest shares"}:
        return "buy"
    if a == "sell":
        return "sell"
    if "dividend" in a or a in {"qual div reinvest", "pr yr div reinvest", "non-qualified div"}:
        return "dividend"
    if a in {"wire funds", "moneylink transfer", "wire received", "wire sent", "funds received"}:
        return "deposit" if _money_sign(amount) > 0 else "withdrawal"
    return None


def _fidelity_kind(action: str, amount: str) -> str | None:
    a = action.strip().upper()
    if a.startswith("YOU BOUGHT") or a.startswith("REINVESTMENT"):
        return "buy"
    if a.startswith("YOU SOLD"):
        return "sell"
    if a.startswith("DIVIDEND RECEIVED"):
        return "dividend"
    if "ELECTRONIC FUNDS TRANSFER" in a or a.startswith("TRANSFERRED"):
        return "deposit" if _money_sign(amount) > 0 else "withdrawal"
    return None


PRESETS = (
    Preset(
        "schwab",
        "Charles Schwab (transaction history CSV)",
        frozenset({"Date", "Action", "Symbol", "Quantity", "Price", "Fees & Comm", "Amount"}),
        "Date",
        "Action",
        "Symbol",
        "Quantity",
        ("Price",),
        ("Fees & Comm",),
        "Amount",
        _schwab_kind,
    ),
    Preset(
        "fidelity",
        "Fidelity (account history CSV)",
        frozenset({"Run Date", "Action", "Symbol", "Quantity", "Amount ($)"}),
        "Run Date",
        "Action",
        "Symbol",
        "Quantity",
        ("Price ($)", "Price"),
        ("Commission ($)", "Fees ($)"),
        "Amount ($)",
        _fidelity_kind,
    ),
)
BY_NAME = {p.name: p for p in PRESETS}


def _number(text: str) -> str:
    """A broker's number as plain text: `$1,234.50` -> `1234.50`, `(5.00)` or `-5` -> its
    size (the kind carries the direction); blank stays blank."""
    cleaned = text.strip().replace("$", "").replace(",", "").strip("()").lstrip("+-").strip()
    return cleaned


def _header_at(rows: Sequence[list[str]]) -> tuple[int, Preset] | None:
    for index, row in enumerate(rows[:20]):
        cells = {c.strip() for c in row}
        for preset in PRESETS:
            if preset.header <= cells:
                return index, preset
    return None


def detect(text: str) -> Preset | None:
    """The preset whose header the file has (within its first 20 lines), if any."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None)))
    found = _header_at(rows)
    return None if found is None else found[1]


def translate(text: str, preset: Preset | None = None) -> Translated | None:
    """The file as tickstream's CSV, or None when no preset's header is in it. A row keeps
    its line number: the header goes first, then as many blank lines as stood before it."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None)))
    found = _header_at(rows)
    if found is None or (preset is not None and found[1] is not preset):
        return None
    at, preset = found
    names = [c.strip() for c in rows[at]]
    column = {name: i for i, name in enumerate(names)}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for _ in range(at):
        out.write("\n")
    skipped: Counter[str] = Counter()

    def cell(row: list[str], name: str) -> str:
        i = column.get(name)
        return row[i].strip() if i is not None and i < len(row) else ""

    for row in rows[at + 1 :]:
        on = _DATE.match(cell(row, preset.date))
        if on is None:  # a title, a blank or a disclaimer line: not a transaction
            out.write("\n")
            continue
        month, day, year = on.groups()
        action = cell(row, preset.action)
        kind = preset.kind(action, cell(row, preset.amount))
        if kind is None:
            skipped[action or "(no action)"] += 1
            out.write("\n")
            continue
        try:
            when = date(int(year), int(month), int(day)).isoformat()
        except ValueError:  # 13/45/2023: the record's check names it, with its row
            when = cell(row, preset.date)
        price = next((cell(row, p) for p in preset.price if cell(row, p)), "")
        fees = [_number(cell(row, f)) for f in preset.fees if _number(cell(row, f))]
        fee = fees[0] if len(fees) == 1 else _sum(fees)
        symbol = cell(row, preset.symbol)
        if kind in {"buy", "sell"}:
            fields = [when, kind, symbol, _number(cell(row, preset.quantity)), _number(price)]
        elif kind == "dividend":
            fields = [when, kind, symbol, _number(cell(row, preset.amount)), ""]
        else:
            fields = [when, kind, "", _number(cell(row, preset.amount)), ""]
        writer.writerow([*fields, fee, action[:200]])
    return Translated(out.getvalue(), preset.name, skipped)


def _sum(numbers: list[str]) -> str:
    """The sum of the fee texts, exactly and by the one grammar of numbers (a text that is
    not a number stays as it is, for the record's check to name with its row)."""
    try:
        total = sum((parse_decimal(n) for n in numbers), Decimal(0))
    except NumberError:
        return next((n for n in numbers if not _is_number(n)), "")
    return format(total, "f") if numbers else ""


def _is_number(text: str) -> bool:
    try:
        parse_decimal(text)
    except NumberError:
        return False
    return True


class MappingError(ValueError):
    """A column mapping that does not fit the file; the message says which column."""


REQUIRED = ("time", "kind", "symbol", "quantity")


def remap(text: str, columns: dict[str, str]) -> str:
    """A file with its own header as tickstream's CSV: `columns` names, for each of
    tickstream's columns, the file's column that holds it (time, kind, symbol and
    quantity are needed; price, fee and note may be left out). Its values must already be
    tickstream's (kinds buy, sell, deposit, ...; a time a date or ISO 8601): only the
    columns move, so each row keeps its line. O(the file)."""
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None)))
    if not rows:
        raise MappingError("the file is empty")
    header = [c.strip() for c in rows[0]]
    unknown = [ours for ours in columns if ours not in COLUMNS]
    if unknown:
        raise MappingError(f"{unknown[0]!r} is not a column of tickstream's CSV")
    missing = [ours for ours in REQUIRED if not columns.get(ours)]
    if missing:
        raise MappingError(f"choose the file's column for {missing[0]}")
    absent = [theirs for theirs in columns.values() if theirs and theirs not in header]
    if absent:
        raise MappingError(f"the file has no column {absent[0]!r}")
    at = {ours: header.index(theirs) for ours, theirs in columns.items() if theirs}
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for row in rows[1:]:
        if not any(cell.strip() for cell in row):
            out.write("\n")
            continue
        writer.writerow([row[at[c]] if c in at and at[c] < len(row) else "" for c in COLUMNS])
    return out.getvalue()
