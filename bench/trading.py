"""Paper-trading benchmark: the pure engine, then orders placed through the REST API.

    make bench-trading        (or: python bench/trading.py [--quick])

The engine (one process, no database): 10,000 resting limit orders (and stops) on one
instrument, then a stream of trades:
- "crossing nothing": trades inside the spread, which fill and trigger nothing (the cost
  every trade pays: bisection at the book's edges);
- "filling": trades that walk through the book, filling and re-placing orders.
Prints trades/s and fills/s, the median of five runs, and the same figures with 100
resting orders as the same-run baseline: with price-indexed books the cost of a trade that
crosses nothing does not grow with the book.

The API (a real server on SQLite, development mode, simulated market): one client places
limit orders that rest (`POST /api/trading/orders/`) and cancels them (`DELETE`), over one
kept-alive connection, then four clients place at once. Prints the median, p99 and max
latency and orders/s, beside an authenticated read of the same account
(`GET /api/trading/account/`) as the same-run baseline.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.fanout import free_port, stop, wait_port  # noqa: E402
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
        engine.events.clear()  # the running system drains these after every trade
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


ROOT = Path(__file__).resolve().parents[1]


class Client:
    """One API client on a kept-alive connection, with the demo user's token."""

    def __init__(self, port: int, token: str | None = None) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.headers = {"Content-Type": "application/json", "Host": "127.0.0.1"}
        if token:
            self.headers["Authorization"] = f"Token {token}"

    def call(self, method: str, path: str, body: object = None) -> tuple[int, object, float]:
        data = None if body is None else json.dumps(body)
        start = time.perf_counter()
        self.conn.request(method, path, body=data, headers=self.headers)
        response = self.conn.getresponse()
        payload = json.loads(response.read() or b"null")
        return response.status, payload, (time.perf_counter() - start) * 1000


def latency(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered):5.1f} ms  p99 {p99:5.1f} ms  max {ordered[-1]:5.1f} ms"
    )


def api(orders: int, feeds: str) -> None:
    env = {
        **os.environ,
        "TICKSTREAM_DEVELOPMENT": "true",
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SIM_BACKFILL_S": "0",
        "SIM_RATE": "50",
        "FEEDS": feeds,
        "TRADING_ORDERS_PER_SECOND": "1000000",  # measuring the path, not the limit
        "TRADING_MAX_OPEN_ORDERS": "1000000",
    }
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        log = Path(var) / "server.log"
        server = subprocess.Popen(
            [sys.executable, "-m", "tickstream", "run", "--port", str(port)],
            env={**env, "TICKSTREAM_VAR_DIR": var},
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port)
            anonymous = Client(port)
            status, token, _ = anonymous.call(
                "POST", "/api/auth/token/", {"username": "demo", "password": "demo-tickstream"}
            )
            assert status == 200, token
            key = token["token"]  # type: ignore[index]
            client = Client(port, key)
            while client.call("GET", "/api/trading/account/")[1]["engine"] != "running":  # type: ignore[index]
                time.sleep(0.2)
            for _ in range(50):  # warm up
                client.call("GET", "/api/trading/account/")
            reads = [client.call("GET", "/api/trading/account/")[2] for _ in range(orders)]
            placed, ids = [], []
            body = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1",
                    "price": "1.00"}  # fmt: skip
            start = time.perf_counter()
            for _ in range(orders):
                status, order, ms = client.call("POST", "/api/trading/orders/", body)
                assert status == 201, order
                placed.append(ms)
                ids.append(order["id"])  # type: ignore[index]
            rate = orders / (time.perf_counter() - start)
            cancels = []
            for order_id in ids[: orders // 4]:
                status, order, ms = client.call("DELETE", f"/api/trading/orders/{order_id}/")
                assert status == 200, order
                cancels.append(ms)
            together: list[float] = []
            lock = threading.Lock()

            def place_many(n: int) -> None:
                mine = Client(port, key)
                for _ in range(n):
                    status, order, ms = mine.call("POST", "/api/trading/orders/", body)
                    assert status == 201, order
                    with lock:
                        together.append(ms)

            threads = [threading.Thread(target=place_many, args=(orders // 4,)) for _ in range(4)]
            start = time.perf_counter()
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            together_rate = len(together) / (time.perf_counter() - start)
        finally:
            stop(server)
    market = "simulated market at 50 trades/s" if feeds else "no feed"
    print(f"\nREST API on SQLite (one server, {market}), {orders:,} requests each\n")
    print(f"  read the account (baseline)  {latency(reads)}")
    print(f"  place a limit order          {latency(placed)}  {rate:,.0f} orders/s")
    print(f"  cancel it                    {latency(cancels)}")
    print(f"  place, 4 clients at once     {latency(together)}  {together_rate:,.0f} orders/s")
    ratio = statistics.median(placed) / statistics.median(reads)
    print(f"\n  placing / reading (medians): {ratio:.2f}x")
    print("  goal (issue 11): placing an order through the API under 20 ms at p99 on SQLite")


PLACEMENT = re.compile(
    r"placement to engine: from commit median ([0-9.]+) ms, p99 ([0-9.]+) ms, max ([0-9.]+) ms "
    r"over (\d+) orders told by notice, (\d+) read from the database; from creation median "
    r"([0-9.]+) ms, p99 ([0-9.]+) ms"
)


def _reachable(port: int) -> bool:
    import socket

    try:
        with socket.create_connection(("127.0.0.1", port), 1):
            return True
    except OSError:
        return False


def placement(layout: str, orders: int) -> str:
    """Place `orders` resting limit orders through the API while the market trades 1,000
    times a second; the engine's own figures of placement to engine."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_"))},
        "TICKSTREAM_DEVELOPMENT": "true",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",  # the engine's figures are an INFO line when it stops
        "SIM_BACKFILL_S": "0",
        "SIM_RATE": "1000",
        "FEEDS": "simulated",
        "TRADING_ORDERS_PER_SECOND": "1000000",
        "TRADING_MAX_OPEN_ORDERS": "1000000",
    }
    database = ""
    if layout == "split":
        if not (_reachable(5432) and _reachable(6379)):
            return "split: skipped (needs PostgreSQL on 5432 and Redis on 6379)"
        database = f"tickstream_bench_{os.getpid()}"
        env |= {
            "DATABASE_URL": f"postgres://postgres@127.0.0.1:5432/{database}",
            "REDIS_URL": "redis://127.0.0.1:6379/0",
            "CHANNEL_PREFIX": f"b{os.getpid()}",
        }
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        log = Path(var) / "server.log"
        command = ["run", "--port", str(port)] if layout == "embedded" else ["split"]
        if layout == "split":
            env["WEB_PORTS"] = str(port)
        server = subprocess.Popen(
            [sys.executable, "-m", "tickstream", *command],
            env={**env, "TICKSTREAM_VAR_DIR": var},
            cwd=ROOT,
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            wait_port(port, timeout=120)
            anonymous = Client(port)
            status, token, _ = anonymous.call(
                "POST", "/api/auth/token/", {"username": "demo", "password": "demo-tickstream"}
            )
            assert status == 200, token
            client = Client(port, token["token"])  # type: ignore[index]
            deadline = time.monotonic() + 120
            while client.call("GET", "/api/trading/account/")[1]["engine"] != "running":  # type: ignore[index]
                assert time.monotonic() < deadline, "the engine did not start"
                time.sleep(0.2)
            time.sleep(2)  # the market at its rate
            body = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1",
                    "price": "1.00"}  # fmt: skip
            for _ in range(orders):
                status, order, _ = client.call("POST", "/api/trading/orders/", body)
                assert status == 201, order
            time.sleep(1)  # the last ones reach the engine
        finally:
            stop(server)
            if database:
                import psycopg

                with psycopg.connect(
                    "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
                ) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        text = log.read_text(errors="replace")
    found = PLACEMENT.search(text)
    if found is None:
        return f"{layout}: no figures in the log\n{text[-1500:]}"
    median, p99, worst, told, read, c_median, c_p99 = found.groups()
    return (
        f"{layout:>9}  from commit: median {float(median):5.2f} ms  p99 {float(p99):5.2f} ms  "
        f"max {float(worst):6.2f} ms  ({int(told):,} told, {int(read)} read)\n"
        f"{'':>9}  from creation in its transaction: median {float(c_median):5.2f} ms  "
        f"p99 {float(c_p99):5.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--skip-api", action="store_true")
    parser.add_argument("--api-only", action="store_true")
    parser.add_argument("--placement-only", action="store_true")
    options = parser.parse_args()
    if options.placement_only:
        _placements(200 if options.quick else 1000)
        return
    trades = 20_000 if options.quick else 100_000
    if options.api_only:
        for feeds in ("", "simulated"):
            api(400 if options.quick else 2000, feeds)
        return
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
    if not options.skip_api:  # the server's floor without a market, then with one
        for feeds in ("", "simulated"):
            api(400 if options.quick else 2000, feeds)
    _placements(200 if options.quick else 1000)


def _placements(orders: int) -> None:
    print(f"\nplacement to engine, simulated market at 1,000 trades/s, {orders:,} orders")
    print("  baseline in the same run: from creation, which adds the order's own transaction;")
    print("  before notices an order waited up to TRADING_POLL_S (200 ms) for the engine's poll\n")
    for layout in ("embedded", "split"):
        print(" ", placement(layout, orders))
    print("\n  goal (issue 24): p99 <= 5 ms at 1,000 trades/s, embedded and split")


if __name__ == "__main__":
    main()
