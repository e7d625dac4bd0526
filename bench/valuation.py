"""Live valuation in process: what one flush costs the Hub per portfolio, at 20, 200 and
1,000 holdings (1x, 10x, 50x today's bench), and at 1,000 / 10,000 portfolios of 20
holdings sharing one price board.

    python bench/valuation.py        (make bench-portfolio runs it)

A flush here is what the Hub does for every portfolio whose holdings traded: the board
takes the flush's quotes (once), each valuation is marked and its update built and
encoded. Every holding's price moves at every flush (the worst case). Prints the median
of 5 runs, every run beside it, in microseconds per portfolio and per holding.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import orjson  # noqa: E402

from tickstream.portfolio.core.valuation import Basis, Position, Valuation  # noqa: E402

FLUSHES = 20
RUNS = 5


def quotes(symbols: list[str], rng: random.Random, now: int) -> dict[str, dict[str, str]]:
    """One flush's quotes: every symbol at a new price on its tick grid."""
    return {
        s: {
            "last": f"{rng.randint(1_000, 99_999_999) / 100:.2f}",
            "prev_close": f"{100 + i % 50}.00",
            "time": f"2026-12-07T10:{now // 60 % 60:02d}:{now % 60:02d}.000000Z",
        }
        for i, s in enumerate(symbols)
    }


def run(portfolios: int, holdings: int, universe: int, seed: int) -> float:
    """Seconds per portfolio per flush."""
    rng = random.Random(seed)
    symbols = [f"S{i:04d}" for i in range(universe)]
    space: dict[str, object] = {}
    values = []
    for _ in range(portfolios):
        held = sorted(rng.sample(symbols, holdings))
        basis = Basis(
            tuple(
                Position(s, Decimal(rng.randint(1, 5_000)) / 100, Decimal("1000.50")) for s in held
            ),
            cash=Decimal("10000"),
        )
        value = Valuation(basis, header={"id": 1, "currency": "USD"})
        value.share(space)
        values.append(value)
    flushes = [quotes(symbols, rng, n) for n in range(FLUSHES + 1)]
    for value in values:
        value.mark_quotes(flushes[0])
    started = time.perf_counter()
    for marks in flushes[1:]:
        for value in values:
            if value.mark_quotes(marks):
                orjson.dumps(value.update())
    return (time.perf_counter() - started) / FLUSHES / portfolios


def main() -> None:
    print("live valuation in process: one flush, per portfolio (every holding moved)\n")
    print(f"  {'portfolios x holdings':<24} {'median us':>10} {'us/holding':>11}  every run")
    base = None
    for portfolios, holdings, universe in (
        (1_000, 20, 36),
        (1_000, 200, 400),
        (200, 1_000, 2_000),
        (10_000, 20, 36),
    ):
        runs = [run(portfolios, holdings, universe, seed) * 1e6 for seed in range(RUNS)]
        median = statistics.median(runs)
        base = base or median
        print(
            f"  {f'{portfolios:,} x {holdings:,}':<24} {median:>10.1f} {median / holdings:>11.3f}  "
            + " ".join(f"{r:.1f}" for r in runs)
            + (f"  ({median / base:.1f}x the first)" if median != base else "")
        )


if __name__ == "__main__":
    main()
