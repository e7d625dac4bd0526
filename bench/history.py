"""Portfolio history benchmark: how the cost of a portfolio grows with its transactions.

    make bench-portfolio        (its "history" section; or: python bench/history.py [--quick])

1. The core alone: a full replay as the server makes it (`Replay.of`: the book and the
   day-end timeline, on a cold read or a change inside the history) of 1,000 / 5,000 /
   10,000 / 50,000 transactions (one symbol a minute apart, 55 % buys, sales of random
   size) under every method, the median of five runs, with the collector tuned as the
   server tunes it. Goal: 50,000 at
   most 12x 5,000 in every method (linear would be 10x).
2. Through the REST API of a real server on SQLite: two portfolios over the same two years
   of five stocks with daily closes, one of 1,000 transactions and one of 50,000. For each:
   the first valuation after the server starts (the one replay that reads every row), then
   the median of repeated requests: add a transaction after the last, the valuation,
   returns over ALL, the value history, and the newest page of transactions. Goal: each
   at most 2x the 1,000-transaction portfolio's, in the same run.
"""

from __future__ import annotations

import argparse
import gc
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fanout import free_port, stop, wait_port  # noqa: E402
from bench.portfolio import SETUP_USER  # noqa: E402
from bench.trading import Client  # noqa: E402
from tickstream.portfolio.core.costbasis import Kind, Method, Transaction  # noqa: E402
from tickstream.portfolio.core.replay import Replay  # noqa: E402

D = Decimal
START_NS = 1_700_000_000 * 10**9
SIZES = (1_000, 5_000, 10_000, 50_000)


def history(n: int, seed: int = 1) -> list[Transaction]:
    """n transactions of one symbol a minute apart: 55 % buys, sales of what is held."""
    rng = random.Random(seed)
    out: list[Transaction] = []
    held = D(0)
    for i in range(n):
        time_ns = START_NS + i * 60 * 10**9
        price = D(rng.randint(5_000, 15_000)) / 100
        quantity = D(rng.randint(1, 100))
        if rng.random() < 0.55 or held < 1:
            held += quantity
            out.append(Transaction(Kind.BUY, time_ns, "X", quantity, price, D(1), str(i)))
        else:
            quantity = min(held, quantity)
            held -= quantity
            out.append(Transaction(Kind.SELL, time_ns, "X", quantity, price, D(1), str(i)))
    return out


def tune_gc() -> None:
    """As the server does (tickstream/lifespan.py)."""
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 100)


def core(sizes: tuple[int, ...], runs: int) -> None:
    tune_gc()
    data = {n: history(n) for n in sizes}
    print(f"history, 1. a full replay in the core, Replay.of (median of {runs} runs, ms)\n")
    print(f"  {'method':<8}" + "".join(f"{n:>10,}" for n in sizes) + f"{'50k / 5k':>10}")
    for method in Method:
        medians = {}
        for n in sizes:
            times = []
            for _ in range(runs):
                start = time.perf_counter()
                Replay.of(data[n], method)
                times.append(time.perf_counter() - start)
            medians[n] = statistics.median(times)
        ratio = medians[sizes[-1]] / medians[5_000] if 5_000 in medians else float("nan")
        cells = "".join(f"{medians[n] * 1000:>10.1f}" for n in sizes)
        print(f"  {method.value:<8}{cells}{ratio:>9.1f}x")
    print("\n  goal (issue 23): 50,000 at most 12x 5,000 in every method\n")


SETUP = (
    SETUP_USER
    + """
stocks = list(Instrument.objects.filter(kind="stock").order_by("symbol")[:5])
today = datetime.now(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
first = today - timedelta(days=730)
candles = []
rng = random.Random(9)
for instrument in stocks:
    price = float(instrument.reference_price)
    for day in range(730):
        price *= 1 + rng.gauss(0, 0.015)
        close = Decimal(f"{{price:.2f}}")
        candles.append(Candle(instrument=instrument, interval="1d",
                              start=first + timedelta(days=day), open=close, high=close,
                              low=close, close=close, volume=1000, closed=True))
Candle.objects.bulk_create(candles)
for n in {sizes}:
    rng = random.Random(n)
    held = {{s.symbol: 0 for s in stocks}}
    rows = [record({{"kind": "deposit", "quantity": "100000000",
                     "time": first.isoformat()}}, today)]
    step = timedelta(days=729) / n
    for i in range(n):
        symbol = rng.choice(stocks).symbol
        when = (first + timedelta(hours=1) + step * i).isoformat()
        quantity = rng.randint(1, 100)
        kind = "buy" if rng.random() < 0.55 or held[symbol] < quantity else "sell"
        held[symbol] += quantity if kind == "buy" else -quantity
        rows.append(record({{"kind": kind, "symbol": symbol, "quantity": str(quantity),
                             "price": str(rng.randint(5_000, 40_000) / 100), "fee": "1",
                             "time": when}}, today))
    portfolio = portfolio_create(owner=user, name=f"p{{n}}")
    transactions_import(portfolio=portfolio, records=rows)
    print(f"{{n}}={{portfolio.pk}}")
"""
)


def api(sizes: tuple[int, ...], repeat: int) -> None:
    env = {
        **os.environ,
        "TICKSTREAM_DEVELOPMENT": "true",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SIM_BACKFILL_S": "0",
        "FEEDS": "",
    }
    with tempfile.TemporaryDirectory() as var:
        env["TICKSTREAM_VAR_DIR"] = var
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-c", SETUP.format(sizes=list(sizes))],
            env={**env, "DJANGO_SETTINGS_MODULE": "tickstream.settings"},
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
        lines = done.stdout.strip().splitlines()
        token = lines[-1 - len(sizes)]
        ids = dict(line.split("=") for line in lines[-len(sizes) :])
        setup_s = time.monotonic() - started
        port = free_port()
        log = Path(var) / "server.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "tickstream", "run", "--port", str(port)],
            env=env,
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port)
            client = Client(port, token)
            client.call("GET", "/api/portfolios/")  # the server's own first request
            rows: dict[str, dict[int, float]] = {}

            def measure(label: str, n: int, path: str, body: object = None) -> None:
                times = []
                for i in range(repeat):
                    payload = body(i) if callable(body) else body
                    status, answer, ms = client.call("POST" if body else "GET", path, payload)
                    assert status in (200, 201), (path, answer)
                    times.append(ms)
                rows.setdefault(label, {})[n] = statistics.median(times)

            for n in sizes:
                base = f"/api/portfolios/{ids[str(n)]}"
                status, _, cold = client.call("GET", f"{base}/valuation/")
                assert status == 200
                rows.setdefault("first valuation (reads every row)", {})[n] = cold

                def at_the_end(i: int) -> dict[str, str]:
                    now = datetime.now(UTC).isoformat()
                    return {"kind": "deposit", "quantity": "1", "time": now, "note": f"b{i}"}

                measure("add a transaction after the last", n, f"{base}/transactions/", at_the_end)
                status, page, _ = client.call("GET", f"{base}/transactions/?order=desc&limit=100")
                assert status == 200
                older = page[-1]  # type: ignore[index]
                edit = {k: older[k] for k in ("kind", "symbol", "quantity", "price", "fee", "time")}
                rows.setdefault("edit the 100th newest (takes back 100)", {})[n] = _median(
                    [
                        client.call(
                            "PUT",
                            f"{base}/transactions/{older['id']}/",
                            {**edit, "note": f"edit {i}"},
                        )[2]
                        for i in range(repeat)
                    ]  # fmt: skip
                )
                measure("valuation", n, f"{base}/valuation/")
                measure("returns, ALL", n, f"{base}/returns/?period=ALL")
                measure("value history (2 years)", n, f"{base}/history/")
                measure("newest page of 50", n, f"{base}/transactions/?order=desc&limit=50")
        finally:
            stop(server)
    small, large = sizes[0], sizes[-1]
    print(
        f"history, 2. through the REST API on SQLite (one server, no feed; median of {repeat}; "
        f"setup {setup_s:.0f} s)\n"
    )
    print(f"  {'request':<40}" + "".join(f"{n:>10,}" for n in sizes) + f"{'ratio':>9}")
    for label, by_size in rows.items():
        ratio = by_size[large] / by_size[small]
        cells = "".join(f"{by_size[n]:>8.1f}ms" for n in sizes)
        goal = "" if label.startswith("first") else ("  ok" if ratio <= 2 else "  OVER")
        print(f"  {label:<40}{cells}{ratio:>8.2f}x{goal}")
    print(
        f"\n  goal (issue 23): every request but the first at most 2x for {large:,} "
        f"transactions what it is for {small:,}"
    )


def _median(samples: list[float]) -> float:
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="3 runs, 10 requests each")
    options = parser.parse_args()
    core(SIZES, 3 if options.quick else 5)
    api((1_000, 50_000), 10 if options.quick else 30)


if __name__ == "__main__":
    main()
