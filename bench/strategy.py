"""Backtest benchmark: how a backtest's cost grows with the trades it plays.

    make bench-strategy        (or: python bench/strategy.py [--quick])

The SMA crossover (`strategy/examples/sma_crossover.py`) over mplfinance's 13 years of
AAPL daily bars (13,516 trades), and over the same file played 10 and 50 times in a row
(135,160 and 675,800 trades, each copy later than the one before). For each size, in the
same run: trades/s of the backtest, and of the market state update alone (the market
core's `process` of the same trades, which the backtest also does), the median of three
runs. Goals: the backtest's rate at 50x within 20 % of its rate at 1x (linear cost), and
its cost per trade at most 3x the state update's (issue 27's goal).
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickstream.market.core.analytics.indicators import parse_indicators  # noqa: E402
from tickstream.market.core.analytics.intervals import parse_interval  # noqa: E402
from tickstream.market.core.engine import MarketEngine  # noqa: E402
from tickstream.market.core.formats import read_price_file  # noqa: E402
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec  # noqa: E402
from tickstream.market.core.ticks import NS_PER_S, Tick  # noqa: E402
from tickstream.market.feeds.replay import file_trades  # noqa: E402
from tickstream.strategy.core.backtest import Backtest  # noqa: E402
from tickstream.strategy.examples.sma_crossover import SmaCrossover  # noqa: E402
from tickstream.trading.core.matching import Market  # noqa: E402

FILE = ROOT / "tests" / "fixtures" / "mplfinance" / "yahoofinance-AAPL-20040819-20180120.csv"
SPEC = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK, tick_size=Decimal("0.000001"))
MARKET = Market("AAPL", "AAPL", "USD", tick=Decimal("0.000001"), step=Decimal(1))
INTERVALS = [parse_interval("1d")]


def ticks(copies: int) -> list[Tick]:
    """The file's trades, played `copies` times in a row (each copy a day after the last)."""
    base = [(ts, p, s) for ts, p, s, _ in file_trades(read_price_file(FILE))]
    span = base[-1][0] - base[0][0] + 86_400 * NS_PER_S
    return [
        Tick("AAPL", p, s, ts + n * span, ts + n * span, "file", None)
        for n in range(copies)
        for ts, p, s in base
    ]


def backtest_rate(played: list[Tick]) -> float:
    strategy = SmaCrossover("AAPL", fast=10, slow=30)
    run = Backtest(
        strategy, [SPEC], [MARKET], intervals=INTERVALS,
        indicators=parse_indicators(strategy.indicators()), cash={"USD": Decimal(100_000)},
    )  # fmt: skip
    start = time.perf_counter()
    result = run.run(played)
    elapsed = time.perf_counter() - start
    assert result.fills and run.venue.ledger.conserved()
    return len(played) / elapsed


def state_rate(played: list[Tick]) -> float:
    engine = MarketEngine(
        [SPEC], INTERVALS, parse_indicators("sma:10,sma:30"), max_delay_s=None,
        reorder_tolerance_s=0,
    )  # fmt: skip
    start = time.perf_counter()
    for tick in played:
        engine.process(tick, live=False)
    return len(played) / (time.perf_counter() - start)


def median_of(fn: object, played: list[Tick], runs: int) -> tuple[float, list[float]]:
    rates = []
    for _ in range(runs):
        gc.collect()
        rates.append(fn(played))  # type: ignore[operator]
    return statistics.median(rates), rates


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="1x and 10x, one run each")
    options = parser.parse_args()
    sizes = [1, 10] if options.quick else [1, 10, 50]
    runs = 1 if options.quick else 3
    print("backtest benchmark: SMA crossover on AAPL daily bars, one process\n")
    print(
        f"{'copies':>6} {'trades':>9} {'backtest/s':>11} {'state/s':>10} {'cost ratio':>10}  runs"
    )
    rates: dict[int, float] = {}
    ok = True
    for copies in sizes:
        played = ticks(copies)
        back, back_runs = median_of(backtest_rate, played, runs)
        state, _ = median_of(state_rate, played, runs)
        rates[copies] = back
        ratio = state / back
        ok &= ratio <= 3
        shown = ", ".join(f"{r:,.0f}" for r in back_runs)
        print(
            f"{copies:>6} {len(played):>9,} {back:>11,.0f} {state:>10,.0f} {ratio:>9.2f}x  {shown}"
        )
    largest = max(rates)
    linear = rates[largest] >= 0.8 * rates[1]
    print(
        f"\nrate at {largest}x / rate at 1x: {rates[largest] / rates[1]:.2f} "
        f"(goal >= 0.80: {'met' if linear else 'NOT met'}); "
        f"cost per trade <= 3x the state update's: {'met' if ok else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
