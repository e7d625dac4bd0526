"""The CSV format of transactions (pure): `time,kind,symbol,quantity,price,fee,note`, and
optionally `currency,rate` (the transaction's currency and its rate in the portfolio's:
blank, the instrument's currency or the portfolio's, and the reference rate of the day).

`read` checks every row and reports each bad one with its row number (the header is row
1), its column and the reason; a file with any bad row yields no records at all. Line ends
may be LF, CRLF or CR. `write` produces the same format, so an export imports back to the
same portfolio, exactly.

A note a spreadsheet would run as a formula (one that starts with `=`, `+`, `-`, `@`, a
tab or a CR, after any `'`) is written with one more `'` in front, as OWASP advises for
CSV files; `read` takes exactly that one `'` away again.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from tickstream.common.core.edge import FieldError
from tickstream.market.core.messages import decimal_str as plain
from tickstream.market.core.ticks import datetime_to_iso
from tickstream.portfolio.core.records import Record, record

COLUMNS = ("time", "kind", "symbol", "quantity", "price", "fee", "note")
OPTIONAL = ("currency", "rate")  # blank: the instrument's (or portfolio's), the day's rate
MAX_ROWS = 10_000
MAX_PROBLEMS = 50
MAX_CELL = 100_000  # characters; a note keeps far fewer
_FORMULA = re.compile(r"'*[=+\-@\t\r]")  # a cell a spreadsheet would run (after any ')


@dataclass(frozen=True, slots=True)
class Problem:
    row: int
    column: str
    code: str
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"row": self.row, "column": self.column, "code": self.code, "message": self.message}


class CsvError(ValueError):
    """The file cannot be imported; `problems` lists why (row, column, reason)."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__(f"{len(problems)} problem(s), first: {problems[0].message}")
        self.problems = problems


def read(text: str, now: datetime, *, quoted_in: Mapping[str, str] | None = None) -> list[Record]:
    """The records of a file, all checked; CsvError lists the problems otherwise, every
    one of the file in one pass. With `quoted_in` (symbol -> the currency it is quoted
    in), a row naming a symbol not there, or a currency other than the symbol's, is a
    problem of its row too. The columns `currency` and `rate` are optional."""
    # newline=None: LF, CRLF and CR all end a line
    rows = _rows(csv.reader(io.StringIO(text.lstrip("\ufeff"), newline=None)))
    header = [h.strip().lower() for h in next(rows, [])]
    twice = [h for n, h in enumerate(header) if h in header[:n]]
    if twice:
        raise CsvError([Problem(1, twice[0], "bad_header", f"column {twice[0]!r} appears twice")])
    missing = [c for c in COLUMNS if c not in header]
    if missing:
        raise CsvError(
            [Problem(1, missing[0], "bad_header", f"the header needs {', '.join(COLUMNS)}")]
        )
    unknown = [h for h in header if h not in COLUMNS and h not in OPTIONAL]
    if unknown:
        raise CsvError([Problem(1, unknown[0], "bad_header", f"unknown column {unknown[0]!r}")])
    records: list[Record] = []
    problems: list[Problem] = []
    for number, row in enumerate(rows, start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(records) + len(problems) >= MAX_ROWS:
            problems.append(Problem(number, "", "too_many_rows", f"at most {MAX_ROWS} rows"))
            break
        if len(row) != len(header):
            problems.append(
                Problem(number, "", "bad_row", f"{len(row)} cells, the header has {len(header)}")
            )
            continue
        long = next((h for h, cell in zip(header, row, strict=True) if len(cell) > MAX_CELL), None)
        if long is not None:
            problems.append(Problem(number, long, "too_long", f"over {MAX_CELL:,} characters"))
            continue
        # Spaces around a cell are the file's layout (`2026-01-02, buy, AAPL`), not its
        # value; the note is kept as written.
        cells = {
            h: cell if h == "note" else cell.strip() for h, cell in zip(header, row, strict=True)
        }
        cells["note"] = unescape(cells["note"])
        try:
            parsed = record(cells, now)
        except FieldError as exc:
            problems.append(Problem(number, exc.field, exc.code, exc.message))
        else:
            symbol_problem = _symbol_problem(parsed.symbol, quoted_in, parsed.currency)
            if symbol_problem is None:
                records.append(parsed)
            else:
                problems.append(Problem(number, "symbol", *symbol_problem))
        if len(problems) >= MAX_PROBLEMS:
            break
    if problems:
        raise CsvError(problems)
    return records


def _symbol_problem(
    symbol: str, quoted_in: Mapping[str, str] | None, currency: str
) -> tuple[str, str] | None:
    """A symbol not in `quoted_in`, or quoted in another currency than the row says."""
    if not symbol or quoted_in is None:
        return None
    quote = quoted_in.get(symbol)
    if quote is None:
        return "unknown_symbol", f"unknown symbol {symbol!r}"
    if currency and quote != currency:
        return (
            "currency_mismatch",
            f"{symbol} is quoted in {quote}; the row says {currency}",
        )
    return None


def _rows(reader: Any) -> Iterator[list[str]]:
    """The reader's rows; a line it cannot split into cells is a `bad_csv` problem."""
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            raise CsvError([Problem(reader.line_num, "", "bad_csv", f"not CSV: {exc}")]) from None
        yield row


def write(records: Iterable[Record]) -> str:
    """A file of the records, in the order given."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow((*COLUMNS, *OPTIONAL))
    for r in records:
        writer.writerow(
            [
                datetime_to_iso(r.time),
                r.kind.value,
                r.symbol,
                plain(r.quantity),
                plain(r.price),
                plain(r.fee),
                escape(r.note),
                r.currency,
                "" if r.rate is None else plain(r.rate),
            ]
        )
    return out.getvalue()


def escape(cell: str) -> str:
    """A cell a spreadsheet would run as a formula, made text with one more `'`."""
    return "'" + cell if _FORMULA.match(cell) else cell


def unescape(cell: str) -> str:
    """What `escape` wrote, as it was."""
    return cell[1:] if cell.startswith("'") and _FORMULA.match(cell) else cell
