"""Paper-trading engine benchmark (the pure core, one process, no database).

    make bench-trading        (or: python bench/trading.py [--quick])

10,000 resting limit orders (and stops) on one instrument, then a stream of trades:
- "crossing nothing": trades inside the spread, which fill and trigger nothing (the cost
  every trade pays: bisection at the book's edges);
- "filling": trades that walk through the book, filling and re-placing orders.
Prints trades/s and fills/s, the median of five runs, and the same figures with 100
resting orders as the same-run baseline: with price-indexed books the cost of a trade that
crosses nothing does not grow with the book.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tickstream.trading.core.matching import Engine, Market, Rules  # noqa: E402
from tickstream.trading.core.orders import Order, OrderType, Side  # noqa: E402

D = Decimal
AAPL = Market("AAPL", "AAPL", "USD", tick=D("0.01"), step=D("1"))


def book(resting: int) -> tuple[Engine, random.Random]:
    rng = random.Random(3)
    engine = Engine([AAPL], Rules())
    engine.ledger.deposit(1, "USD", D(10) ** 12)
    engine.ledger.deposit(1, "AAPL", D(10) ** 9)
    engine.on_trade("AAPL", D("100.00"), D(1))
    for n in range(1, resting + 1):
        side = Side.BUY if n % 2 else Side.SELL
        offset = D(rng.randint(50, 5_000)) / 100  # at least 0.50 from the last price
        price = D("100.00") - offset if side is Side.BUY else D("100.00") + offset
        if n % 10 == 0:  # some stops too, beyond the spread
            engine.place(
                Order(
                    n,
                    1,
                    "AAPL",
                    side,
                    OrderType.STOP,
                    D(5),
                    stop_price=price + (offset if side is Side.BUY else -offset),
                )
            )
        else:
            engine.place(Order(n, 1, "AAPL", side, OrderType.LIMIT, D(5), price=price))
    return engine, rng


def quiet(engine: Engine, rng: random.Random, trades: int) -> float:
    prices = [D("100.00") + D(rng.randint(-40, 40)) / 100 for _ in range(trades)]
    start = time.perf_counter()
    for price in prices:
        engine.on_trade("AAPL", price, D(3))
    return trades / (time.perf_counter() - start)


def walking(engine: Engine, rng: random.Random, trades: int) -> tuple[float, float]:
    prices = [D("100.00") + D(rng.randint(-3_000, 3_000)) / 100 for _ in range(trades)]
    fills = 0
    next_id = 10**9
    start = time.perf_counter()
    for price in prices:
        done = engine.on_trade("AAPL", price, D(20))
        fills += len(done)
        for f in done:  # keep the book full: re-place what filled, away from the price
            next_id += 1
            side = Side.BUY if f.side is Side.BUY else Side.SELL
            away = D(rng.randint(50, 5_000)) / 100
            level = price - away if side is Side.BUY else price + away
            if level > 0:
                engine.place(Order(next_id, 1, "AAPL", side, OrderType.LIMIT, D(5), price=level))
    elapsed = time.perf_counter() - start
    return trades / elapsed, fills / elapsed


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    options = parser.parse_args()
    trades = 20_000 if options.quick else 100_000
    print(f"paper-trading engine (pure core), median of 5 runs of {trades:,} trades\n")
    print(
        f"  {'resting orders':>15} {'crossing nothing':>18} {'walking the book':>18} {'fills/s':>9}"
    )
    for resting in (100, 10_000):
        q, w, f = [], [], []
        for _ in range(5):
            engine, rng = book(resting)
            q.append(quiet(engine, rng, trades))
            engine, rng = book(resting)
            ws, fs = walking(engine, rng, trades // 5)
            w.append(ws)
            f.append(fs)
        quiet_rate, walk_rate = statistics.median(q), statistics.median(w)
        print(
            f"  {resting:>15,} {quiet_rate:>14,.0f} t/s {walk_rate:>14,.0f} t/s "
            f"{statistics.median(f):>9,.0f}"
        )
    print("\n  goal (issue 11): 100,000 trades/s per core with 10,000 resting orders")


if __name__ == "__main__":
    main()
