"""Reading price files: OHLCV bars and trades, in the formats people have.

Supported: Yahoo-style daily CSV, generic OHLCV CSV with a date-time column (in any column
order, with an optional separate time column), headerless `time,o,h,l,c,v` and
`time,price,amount` CSV, JSON candles `[[ms, o, h, l, c, v], ...]`, JSON trades
`[[ms, id, order, side, price, amount, cost], ...]` or a list of objects, gzip of any of them.
Rows that cannot be read are reported with their line, never guessed at.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import ROUND_DOWN, Decimal, InvalidOperation
from pathlib import Path

from tickstream.common.core import edge
from tickstream.market.core.ticks import NS_PER_S, datetime_to_ns
from tickstream.market.core.validation import check_size, require_prices

DAY_NS = 86_400 * NS_PER_S


class PriceFileError(ValueError):
    """A file that cannot be read as prices at all."""


@dataclass(frozen=True, slots=True)
class BarRecord:
    ts: int  # bar start, ns
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal


@dataclass(frozen=True, slots=True)
class TradeRecord:
    ts: int
    price: Decimal
    size: Decimal
    trade_id: str | None = None


@dataclass(slots=True)
class PriceFile:
    """The readable content of a file and what could not be read."""

    kind: str  # "bars" or "trades"
    bars: list[BarRecord] = field(default_factory=list)
    trades: list[TradeRecord] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.bars) if self.kind == "bars" else len(self.trades)

    def bar_duration(self) -> int:
        """The bar size in ns: the smallest gap between consecutive bars (1 day for one bar)."""
        gaps = [b.ts - a.ts for a, b in zip(self.bars, self.bars[1:], strict=False) if b.ts > a.ts]
        return min(gaps) if gaps else DAY_NS


_TIME_FORMATS = (
    "%Y-%m-%d",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%m/%d/%Y %H:%M",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y",
    "%d-%b-%y",
    "%d-%b-%Y",
    "%Y%m%d",
    "%Y%m%d %H:%M:%S",
    "%Y/%m/%d",
    "%Y/%m/%d %H:%M:%S",
)
_NUMERIC = re.compile(r"^-?\d+(\.\d+)?$")


def parse_time(text: str) -> int:
    """Parse a date, date-time (naive = UTC, or with offset) or epoch number to ns."""
    value = text.strip()
    if len(value) > edge.MAX_TEXT:
        raise ValueError(f"a time of {len(value)} characters (at most {edge.MAX_TEXT})")
    if _NUMERIC.match(value) and not re.fullmatch(r"\d{8}", value):
        number = Decimal(value)
        # Epoch in s, ms, us or ns, told apart by magnitude (valid for years 1973-2286).
        for scale, unit in ((NS_PER_S, 10**11), (10**6, 10**14), (10**3, 10**17), (1, 10**20)):
            if abs(number) < unit:
                return int(number * scale)
        raise ValueError(f"timestamp {value!r} is out of range")
    parsed = _parse_datetime(value)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return datetime_to_ns(parsed)


def _parse_datetime(value: str) -> datetime:
    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        pass
    for fmt in _TIME_FORMATS:
        try:
            return datetime.strptime(value, fmt)  # noqa: DTZ007 - naive means UTC, set by caller
        except ValueError:
            continue
    raise ValueError(f"unrecognised time {value!r}")


def parse_decimal(text: object) -> Decimal:
    """A number of a file's cell or a feed's JSON (floats via their shortest repr): the
    cell's spaces are the file's, trimmed; the rest is `edge.parse_decimal`."""
    return edge.parse_decimal(text.strip() if isinstance(text, str) else text, floats=True)


_ALIASES = {
    "time": ("datetime", "date time", "timestamp", "date", "time", "ts", "open time", "t"),
    "clock": ("time",),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "last", "c", "price close"),
    "volume": ("volume", "vol", "v", "base volume"),
    "price": ("price", "p", "rate"),
    "size": ("amount", "size", "qty", "quantity", "volume", "vol"),
    "id": ("id", "trade_id", "tid", "trade id"),
}


def _column(header: Sequence[str], role: str, taken: set[int]) -> int | None:
    names = [h.strip().lower() for h in header]
    for alias in _ALIASES[role]:
        for index, name in enumerate(names):
            if name == alias and index not in taken:
                return index
    return None


def _open_text(path: Path) -> str:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise PriceFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except OSError as exc:
            raise PriceFileError(f"{path}: broken gzip data ({exc})") from exc
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise PriceFileError(f"{path}: not a text file ({exc.reason})") from exc


def read_price_file(path: str | Path) -> PriceFile:
    """Read bars or trades from a file, sorted by time; raise PriceFileError if none."""
    path = Path(path)
    text = _open_text(path)
    stripped = text.lstrip()
    if not stripped:
        raise PriceFileError(f"{path}: the file is empty")
    result = _read_json(stripped) if stripped[0] in "[{" else _read_csv(text)
    if len(result) == 0:
        detail = "; ".join(result.problems[:3]) or "no rows"
        raise PriceFileError(f"{path}: no readable prices ({detail})")
    result.bars.sort(key=lambda b: b.ts)
    result.trades.sort(key=lambda t: t.ts)
    return result


def _read_json(text: str) -> PriceFile:
    try:
        data = json.loads(text, parse_float=Decimal)
    except json.JSONDecodeError as exc:
        raise PriceFileError(f"invalid JSON at line {exc.lineno}: {exc.msg}") from exc
    if isinstance(data, dict):
        data = data.get("data") or data.get("candles") or data.get("trades") or []
    if not isinstance(data, list) or not data:
        raise PriceFileError("JSON must be a non-empty list of candles or trades")
    first = data[0]
    if isinstance(first, list) and len(first) == 7:
        return _rows(data, "trades", lambda r: (r[0], r[4], r[5], r[1]))
    if isinstance(first, list) and len(first) >= 6:
        return _rows(data, "bars", lambda r: (r[0], r[1], r[2], r[3], r[4], r[5]))
    if isinstance(first, dict):
        keys = {k.lower() for k in first}
        if {"open", "high", "low", "close"} <= keys:
            return _rows(data, "bars", _dict_bar)
        return _rows(data, "trades", _dict_trade)
    raise PriceFileError("JSON rows must be [ms, o, h, l, c, v] candles or trade objects")


def _pick(row: dict[str, object], role: str) -> object:
    lowered = {k.lower(): v for k, v in row.items()}
    for alias in _ALIASES[role]:
        if alias in lowered:
            return lowered[alias]
    raise ValueError(f"missing {role}")


def _dict_bar(row: dict[str, object]) -> tuple[object, ...]:
    return tuple(_pick(row, r) for r in ("time", "open", "high", "low", "close", "volume"))


def _dict_trade(row: dict[str, object]) -> tuple[object, ...]:
    lowered = {k.lower() for k in row}
    trade_id = _pick(row, "id") if lowered & set(_ALIASES["id"]) else None
    return (_pick(row, "time"), _pick(row, "price"), _pick(row, "size"), trade_id)


def _rows(rows: Sequence[object], kind: str, extract: object) -> PriceFile:
    result = PriceFile(kind)
    for number, row in enumerate(rows, 1):
        try:
            fields = extract(row)  # type: ignore[operator]
            _append(result, fields)
        except (ValueError, TypeError, IndexError, KeyError) as exc:
            result.problems.append(f"row {number}: {exc}")
    return result


def _append(result: PriceFile, fields: Sequence[object]) -> None:
    ts = parse_time(str(fields[0]))
    if result.kind == "bars":
        o, h, low, c, v = (parse_decimal(x) for x in fields[1:6])
        if not (low <= min(o, c) and h >= max(o, c) and low > 0):
            raise ValueError(f"inconsistent bar o={o} h={h} l={low} c={c}")
        if v < 0:
            raise ValueError(f"negative volume {v}")
        _within_limits(o, h, low, c, volume=v)
        result.bars.append(BarRecord(ts, o, h, low, c, v))
    else:
        price, size = parse_decimal(fields[1]), parse_decimal(fields[2])
        if price <= 0 or size < 0:
            raise ValueError(f"bad trade price={price} size={size}")
        _within_limits(price, volume=size)
        trade_id = None if len(fields) < 4 or fields[3] in (None, "") else str(fields[3])
        result.trades.append(TradeRecord(ts, price, size, trade_id))


def _within_limits(*prices: Decimal, volume: Decimal) -> None:
    """Refuse a row whose numbers no tick could carry (docs/configuration.md)."""
    require_prices(*prices)
    problem = check_size(volume)
    if problem is not None:
        raise ValueError(f"volume: {problem.message}")


def _read_csv(text: str) -> PriceFile:
    sample = text[:4096]
    try:
        dialect: type[csv.Dialect] | csv.Dialect = csv.Sniffer().sniff(sample, delimiters=",;\t")
    except csv.Error:
        dialect = csv.excel
    reader = csv.reader(io.StringIO(text), dialect)
    rows = [r for r in reader if r and any(cell.strip() for cell in r)]
    if not rows:
        raise PriceFileError("no rows")
    header = rows[0]
    headerless = all(_looks_numeric(c) for c in header[1:]) and len(header) > 1
    if headerless:
        return _csv_headerless(rows)
    return _csv_with_header(header, rows[1:])


def _looks_numeric(cell: str) -> bool:
    try:
        Decimal(cell.strip())
    except InvalidOperation:
        return False
    return True


def _csv_headerless(rows: list[list[str]]) -> PriceFile:
    width = len(rows[0])
    if width == 3:
        return _rows(rows, "trades", lambda r: (r[0], r[1], r[2]))
    if width >= 6:
        return _rows(rows, "bars", lambda r: (r[0], r[1], r[2], r[3], r[4], r[5]))
    raise PriceFileError(f"headerless CSV with {width} columns: expected 3 (trades) or 6+ (bars)")


def _csv_with_header(header: list[str], body: list[list[str]]) -> PriceFile:
    taken: set[int] = set()
    time_col = _column(header, "time", taken)
    if time_col is None:
        raise PriceFileError(f"no date/time column in header {str(header)[:120]}")
    taken.add(time_col)
    clock_col = _column(header, "clock", taken)
    if clock_col is not None:
        taken.add(clock_col)
    cols = {}
    for role in ("open", "high", "low", "close"):
        cols[role] = _column(header, role, taken)
    if all(cols[r] is not None for r in cols):
        taken.update(c for c in cols.values() if c is not None)
        volume = _column(header, "volume", taken)
        # Some exports put date and time in two cells under a single `Date` header.
        split_time = clock_col is None and body and len(body[0]) == len(header) + 1

        def bar(row: list[str]) -> tuple[object, ...]:
            cells = [f"{row[0]} {row[1]}", *row[2:]] if split_time else row
            stamp = cells[time_col] if clock_col is None else f"{row[time_col]} {row[clock_col]}"
            vol = cells[volume] if volume is not None else "0"
            return (stamp, *(cells[cols[r]] for r in ("open", "high", "low", "close")), vol)  # type: ignore[index]

        return _rows(body, "bars", bar)
    price = _column(header, "price", taken)
    size = _column(header, "size", taken)
    if price is None or size is None:
        raise PriceFileError(
            f"header {header} has neither open/high/low/close columns nor price and amount"
        )
    ident = _column(header, "id", taken)

    def trade(row: list[str]) -> tuple[object, ...]:
        stamp = row[time_col] if clock_col is None else f"{row[time_col]} {row[clock_col]}"
        return (stamp, row[price], row[size], row[ident] if ident is not None else None)

    return _rows(body, "trades", trade)


def bar_path(bar: BarRecord, duration: int) -> Iterator[tuple[int, Decimal, Decimal]]:
    """The trades of a bar: open, then the nearer extreme, the other, close.

    A rising bar visits its low before its high, a falling one the reverse. The four
    trades sit at quarters of the bar, their sizes sum to the bar's volume exactly, so
    the candle rebuilt from them equals the bar.
    """
    quarter = max(duration // 4, 1)
    if bar.close >= bar.open:
        prices = (bar.open, bar.low, bar.high, bar.close)
    else:
        prices = (bar.open, bar.high, bar.low, bar.close)
    # Quarters at the volume's own precision; the last takes the remainder, so the sum is
    # exact and prints as the source does.
    exponent = Decimal(1).scaleb(bar.volume.as_tuple().exponent)  # type: ignore[arg-type]
    part = (bar.volume / 4).quantize(exponent, rounding=ROUND_DOWN)
    sizes = (part, part, part, bar.volume - 3 * part)
    for step, (price, size) in enumerate(zip(prices, sizes, strict=True)):
        yield bar.ts + step * quarter, price, size
