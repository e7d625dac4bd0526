"""`python -m tickstream strategy backtest FILE.py --data PRICES.csv --symbol AAPL`: a
strategy file backtested on a price file (trades or bars, anything `analyze` reads),
with a summary; `--fills out.csv` writes every fill.

The strategy file defines one `Strategy` subclass (or name it with `--class`); it is made
with `symbol=` and each `--param key=value` (numbers as Decimal, `true`/`false`, else
text). The instrument's price step is the finest the file has; its quantity step is 1
(`--step` for fractions, crypto's 0.00001).
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import inspect
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from tickstream.common.core.edge import NumberError, parse_decimal
from tickstream.market.core.analytics.indicators import IndicatorSpecError, parse_indicators
from tickstream.market.core.analytics.intervals import IntervalError, parse_interval
from tickstream.market.core.formats import PriceFileError, read_price_file
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import Tick, ns_to_iso
from tickstream.market.feeds.replay import file_trades
from tickstream.strategy.core.api import Strategy
from tickstream.strategy.core.backtest import Backtest, Result
from tickstream.trading.core.matching import Market


class StrategyError(Exception):
    """Something the user must fix: the message says what."""


def load_strategy(path: str, name: str | None) -> type[Strategy]:
    """The Strategy subclass a file defines (the one named `name`, or its only one)."""
    file = Path(path)
    if not file.is_file():
        raise StrategyError(f"no file {path}")
    spec = importlib.util.spec_from_file_location(f"strategy_{file.stem}", file)
    if spec is None or spec.loader is None:
        raise StrategyError(f"{path} is not a Python file")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = {
        n: c
        for n, c in vars(module).items()
        if inspect.isclass(c) and issubclass(c, Strategy) and c is not Strategy
        and c.__module__ == module.__name__
    }  # fmt: skip
    if name is not None:
        if name not in found:
            raise StrategyError(f"{path} defines no Strategy named {name}")
        return found[name]
    if len(found) != 1:
        names = ", ".join(sorted(found)) or "none"
        raise StrategyError(f"{path} defines {len(found)} strategies ({names}): name one")
    return next(iter(found.values()))


def _param(text: str) -> tuple[str, Any]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise StrategyError(f"--param {text!r}: use key=value")
    if value in ("true", "false"):
        return key, value == "true"
    try:
        number = parse_decimal(value)
    except NumberError:
        return key, value
    return key, int(number) if number == number.to_integral_value() and "." not in value else number


def _finest_step(prices: list[Decimal]) -> Decimal:
    """The price step of a file: its prices' finest decimal place."""
    places = 0
    for price in prices:
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return Decimal(1).scaleb(-places)


def backtest(options: argparse.Namespace, out: TextIO) -> Result:
    cls = load_strategy(options.strategy, options.strategy_class)
    params = dict(_param(p) for p in options.param)
    symbol = options.symbol.upper()
    try:
        strategy = cls(symbol=symbol, **params)
    except (TypeError, ValueError) as exc:
        raise StrategyError(f"{cls.__name__}: {exc}") from None
    try:
        prices = read_price_file(options.data)
        interval = parse_interval(options.interval)
        indicators = parse_indicators(options.indicators or strategy.indicators())
        cash = parse_decimal(options.cash)
        step = parse_decimal(options.step)
    except (PriceFileError, IntervalError, IndicatorSpecError, NumberError) as exc:
        raise StrategyError(str(exc)) from None
    trades = list(file_trades(prices))
    if not trades:
        raise StrategyError(f"{options.data} holds no trades or bars")
    tick = _finest_step([price for _, price, _, _ in trades])
    quote = options.currency.upper()
    spec = InstrumentSpec(symbol, symbol, InstrumentKind.STOCK, tick_size=tick)
    market = Market(symbol, symbol, quote, tick=tick, step=step)
    run = Backtest(
        strategy, [spec], [market], intervals=[interval], indicators=indicators,
        cash={quote: cash},
    )  # fmt: skip
    result = run.run(Tick(symbol, p, s, ts, ts, "file", i) for ts, p, s, i in trades)
    _summary(result, cash, quote, len(trades), out)
    if options.fills:
        with open(options.fills, "w", newline="") as f:
            writer = csv.writer(f, lineterminator="\n")
            writer.writerow(["time", "order", "side", "price", "quantity", "fee", "liquidity"])
            for order, fill, ts in result.fills:
                writer.writerow(
                    [ns_to_iso(ts), order, fill.side.value, fill.price, fill.quantity,
                     fill.fee, fill.liquidity.value]
                )  # fmt: skip
    return result


def _summary(result: Result, cash: Decimal, quote: str, trades: int, out: TextIO) -> None:
    end = result.equity[-1][1] if result.equity else cash
    fees = sum((f.fee for _, f, _ in result.fills), Decimal(0))
    change = "—" if cash == 0 else f"{(end - cash) / cash * 100:.2f} %"
    rows = [
        ("trades played", f"{trades:,}"),
        ("fills", f"{len(result.fills):,}"),
        ("orders refused", f"{len(result.rejected):,}"),
        (f"fees ({quote})", f"{fees:,.2f}"),
        (f"start ({quote})", f"{cash:,.2f}"),
        (f"end, at the last price ({quote})", f"{end:,.2f}"),
        ("total return", change),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value:>16}\n")


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tickstream strategy")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("backtest", help="a strategy on a price file")
    run.add_argument("strategy", help="the strategy's Python file")
    run.add_argument("--data", required=True, help="a price file: trades or OHLCV bars")
    run.add_argument("--symbol", required=True)
    run.add_argument("--class", dest="strategy_class", default=None)
    run.add_argument("--param", action="append", default=[], help="key=value, repeatable")
    run.add_argument("--cash", default="100000")
    run.add_argument("--currency", default="USD")
    run.add_argument("--step", default="1", help="the quantity step (default 1)")
    run.add_argument("--interval", default="1d", help="the candle interval kept (default 1d)")
    run.add_argument(
        "--indicators", default=None, help="indicator specs kept (default: the strategy's own)"
    )
    run.add_argument("--fills", default=None, help="write every fill to this CSV")
    options = parser.parse_args(args)
    try:
        backtest(options, sys.stdout)
    except StrategyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0
