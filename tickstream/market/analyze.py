"""`python -m tickstream analyze`: candles and indicators of a price file, as CSV.

It runs the file through the same engine as the live pipeline (validation, candle
builders, incremental indicators), without Django.
"""

from __future__ import annotations

import csv
import sys
from collections import Counter
from decimal import Decimal
from typing import TextIO

from tickstream.market.core.analytics.indicators import IndicatorSpecError, parse_indicators
from tickstream.market.core.analytics.intervals import IntervalError, parse_interval
from tickstream.market.core.analytics.state import ClosedCandle
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.formats import PriceFileError, read_price_file
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.messages import round_value
from tickstream.market.core.ticks import Tick, ns_to_iso
from tickstream.market.core.validation import Rejection
from tickstream.market.feeds.replay import file_trades

DEFAULT_INDICATORS = "sma:30,ema:30,rsi:14,macd:12:26:9,bbands:20:2,atr:14,wma:30,vwap"
_DURATION_NAMES = {1: "1s", 60: "1m", 300: "5m", 900: "15m", 3600: "1h", 86_400: "1d"}


class AnalyzeError(Exception):
    """Something the user must fix: the message says what."""


def _value(v: float | None) -> str:
    rounded = round_value(v)
    return "" if rounded is None else repr(rounded)


def analyze(path: str, indicators: str, interval: str | None, out: TextIO, err: TextIO) -> int:
    """Write the CSV; return the number of candles written."""
    try:
        specs = parse_indicators(indicators)
    except IndicatorSpecError as exc:
        raise AnalyzeError(str(exc)) from None
    try:
        prices = read_price_file(path)
    except PriceFileError as exc:
        raise AnalyzeError(str(exc)) from None
    for problem in prices.problems[:10]:
        err.write(f"skipped {problem}\n")
    if len(prices.problems) > 10:
        err.write(f"skipped {len(prices.problems) - 10} more rows\n")
    if interval is None:
        seconds = prices.bar_duration() // 1_000_000_000 if prices.kind == "bars" else 60
        interval = _DURATION_NAMES.get(seconds, "1d")
    try:
        size = parse_interval(interval)
    except IntervalError as exc:
        raise AnalyzeError(str(exc)) from None

    symbol = "FILE"
    instrument = InstrumentSpec(symbol, path, InstrumentKind.STOCK, tick_size=Decimal("1e-10"))
    engine = MarketEngine([instrument], [size], specs, max_delay_s=None, reorder_tolerance_s=0)
    names = [n for s in specs for n in s.names]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["time", "open", "high", "low", "close", "volume", *names])
    written = 0

    def emit(closed: ClosedCandle) -> None:
        nonlocal written
        c = closed.candle
        writer.writerow(
            [
                ns_to_iso(c.start),
                c.open,
                c.high,
                c.low,
                c.close,
                c.volume,
                *(_value(closed.values.get(n)) for n in names),
            ]
        )
        written += 1

    rejected: Counter[str] = Counter()
    for ts, price, qty, trade_id in file_trades(prices):
        result = engine.process(Tick(symbol, price, qty, ts, ts, "file", trade_id), live=False)
        if isinstance(result, Rejection):
            rejected[result.reason.value] += 1
            continue
        for closed in result.closed:
            emit(closed)
    for _, closed in engine.finish():
        emit(closed)
    for reason, count in sorted(rejected.items()):
        err.write(f"rejected {count} trades: {reason}\n")
    return written


def main(args: list[str] | None = None) -> int:
    import argparse

    parser = argparse.ArgumentParser(
        prog="python -m tickstream analyze",
        description="Candles and indicators of a price file (OHLCV bars or trades) as CSV.",
    )
    parser.add_argument("file")
    parser.add_argument(
        "--indicators",
        default=DEFAULT_INDICATORS,
        help=f"comma-separated specs (default {DEFAULT_INDICATORS})",
    )
    parser.add_argument(
        "--interval",
        default=None,
        help="candle interval, e.g. 1m, 1h, 1d (default: the file's bar size)",
    )
    options = parser.parse_args(args)
    try:
        analyze(options.file, options.indicators, options.interval, sys.stdout, sys.stderr)
    except AnalyzeError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    except BrokenPipeError:
        return 0
    return 0
