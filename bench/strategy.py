"""Backtest benchmark: what a backtest costs per trade, beside the market state update.

    make bench-strategy        (or: python bench/strategy.py [--quick])

1. Growth: the SMA crossover (`strategy/examples/sma_crossover.py`) over mplfinance's 13
   years of AAPL daily bars (13,516 trades) with their time compressed 24x (1h candles
   then hold what 1d candles held), played 1, 10 and 50 times in a row (each copy later
   than the one before, every other one backwards): trades/s of the backtest and of the market
   state update alone (the market core's `process` of the same trades, which the backtest
   also does), the median of three runs. Goal: the rate at 50x within 20 % of 1x.
2. The issue's sizes, one run each: 1,000,000 trades of one symbol (the AAPL file played
   74 times as above, cut at a million), and a year of 1-minute bars (525,600: mplfinance's S&P 500
   minutes of November 2019 played back to back, each bar its four-trade path, 2,102,400
   trades; the SMA crossover on 1h candles). Goal: the backtest costs at most 3x the state
   update per trade.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Iterable, Iterator
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickstream.market.core.analytics.indicators import parse_indicators  # noqa: E402
from tickstream.market.core.analytics.intervals import parse_interval  # noqa: E402
from tickstream.market.core.engine import MarketEngine  # noqa: E402
from tickstream.market.core.formats import bar_path, read_price_file  # noqa: E402
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec  # noqa: E402
from tickstream.market.core.ticks import NS_PER_S, Tick  # noqa: E402
from tickstream.market.core.validation import Rejection  # noqa: E402
from tickstream.market.feeds.replay import file_trades  # noqa: E402
from tickstream.strategy.core.backtest import Backtest  # noqa: E402
from tickstream.strategy.examples.sma_crossover import SmaCrossover  # noqa: E402
from tickstream.trading.core.matching import Market  # noqa: E402

FILE = ROOT / "tests" / "fixtures" / "mplfinance" / "yahoofinance-AAPL-20040819-20180120.csv"
SPEC = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK, tick_size=Decimal("0.000001"))
MARKET = Market("AAPL", "AAPL", "USD", tick=Decimal("0.000001"), step=Decimal(1))
INTERVALS = [parse_interval("1h")]


def ticks(copies: int) -> list[Tick]:
    """The file's trades, played `copies` times in a row with their time compressed 24x
    (a day of the file is an hour here, so 50 copies fit before 2200: 1h candles), each
    copy an hour after the last; every other copy plays the prices backwards, so the
    series never jumps (the market core refuses a trade far from the last one)."""
    base = [(ts, p, s) for ts, p, s, _ in file_trades(read_price_file(FILE))]
    t0 = base[0][0]
    base = [(t0 + (ts - t0) // 24, p, s) for ts, p, s in base]
    span = base[-1][0] - t0 + 3_600 * NS_PER_S
    backwards = [(ts, p2, s2) for (ts, _, _), (_, p2, s2) in zip(base, reversed(base), strict=True)]
    return [
        Tick("AAPL", p, s, ts + n * span, ts + n * span, "file", None)
        for n in range(copies)
        for ts, p, s in (base if n % 2 == 0 else backwards)
    ]


MINUTES = ROOT / "tests" / "fixtures" / "mplfinance" / "SP500_NOV2019_IDay.csv"
YEAR_OF_MINUTES = 525_600


def minute_bars() -> Iterator[Tick]:
    """A year of 1-minute bars: the file's minutes played back to back, one minute apart
    (its volumes are 0: each bar trades 100 here), each bar as its four trades."""
    bars = read_price_file(MINUTES).bars
    start = bars[0].ts
    made = 0
    while made < YEAR_OF_MINUTES:
        for bar in bars:
            if made == YEAR_OF_MINUTES:
                return
            moved = replace(bar, ts=start + made * 60 * NS_PER_S, volume=Decimal(100))
            for ts, p, s in bar_path(moved, 60 * NS_PER_S):
                yield Tick("AAPL", p, s, ts, ts, "file", None)
            made += 1


def backtest_rate(played: Iterable[Tick], interval: str = "1h") -> float:
    strategy = SmaCrossover("AAPL", fast=10, slow=30, interval=interval)
    run = Backtest(
        strategy, [SPEC], [MARKET], intervals=[parse_interval(interval)],
        indicators=parse_indicators(strategy.indicators()), cash={"USD": Decimal(100_000)},
    )  # fmt: skip
    start = time.perf_counter()
    result = run.run(played)
    elapsed = time.perf_counter() - start
    assert result.fills and run.venue.ledger.conserved()
    assert result.trades == result.trades_offered, "the market core refused trades"
    return result.trades / elapsed


def state_rate(played: Iterable[Tick], interval: str = "1h") -> float:
    engine = MarketEngine(
        [SPEC], [parse_interval(interval)], parse_indicators("sma:10,sma:30"), max_delay_s=None,
        reorder_tolerance_s=0,
    )  # fmt: skip
    count = 0
    start = time.perf_counter()
    for tick in played:
        if not isinstance(engine.process(tick, live=False), Rejection):
            count += 1
    return count / (time.perf_counter() - start)


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
    print("backtest benchmark: SMA crossover, one process\n")
    print(
        f"{'copies':>6} {'trades':>9} {'backtest/s':>11} {'state/s':>10} {'cost ratio':>10}  runs"
    )
    rates: dict[int, float] = {}
    ok = True
    warm = ticks(1)  # a first run pays for imports and caches: not measured
    backtest_rate(warm)
    state_rate(warm)
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
        f"(goal >= 0.80: {'met' if linear else 'NOT met'})"
    )
    if options.quick:
        return 0
    print(
        f"\n{'workload':<34} {'trades':>10} {'backtest/s':>11} {'state/s':>10} {'cost ratio':>10}"
    )
    million = ticks(74)[:1_000_000]
    workloads = [
        ("1,000,000 trades, 1h candles", lambda: million, "1h"),
        ("525,600 1-minute bars, 1h candles", minute_bars, "1h"),
    ]
    for name, make, interval in workloads:
        gc.collect()
        state = state_rate(make(), interval)
        gc.collect()
        back = backtest_rate(make(), interval)
        ratio = state / back
        ok &= ratio <= 3
        count = sum(1 for _ in make()) if name.startswith("525") else len(million)
        print(f"{name:<34} {count:>10,} {back:>11,.0f} {state:>10,.0f} {ratio:>9.2f}x")
    print(f"\ncost per trade <= 3x the state update's: {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
