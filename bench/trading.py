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

Placing (embedded on SQLite, and split on PostgreSQL and Redis; the simulated market at
1,000 trades/s): REST reads and placements in turn, then over one websocket `order.place`
-> `result` for resting orders, then market orders -> `result` -> their fill pushed on
`orders`, with the engine's own figures (commit -> engine; orders a trade of their symbol
passed before the engine had them). Prints each target, met or not.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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
from typing import Any

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


def _figures_ms(samples: list[float]) -> tuple[float, float, float]:
    ordered = sorted(samples)
    return (
        statistics.median(ordered),
        ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))],
        ordered[-1],
    )


async def _ws_orders(port: int, token: str, resting: int, marketable: int) -> dict[str, Any]:
    """Over one websocket: `resting` limit orders that rest (order.place -> result), then
    `marketable` market orders, buy and sell in turn (-> result, -> the fill on `orders`)."""
    from websockets.asyncio.client import connect

    url = f"ws://127.0.0.1:{port}/ws/v1/"
    async with connect(url, additional_headers={"Authorization": f"Token {token}"},
                       max_size=2**22) as ws:  # fmt: skip
        welcome = json.loads(await ws.recv())
        assert welcome.get("user"), welcome
        await ws.send(json.dumps({"op": "subscribe", "id": 0, "channels": ["orders"]}))
        fills: dict[int, float] = {}
        results: dict[int, tuple[float, dict[str, Any]]] = {}
        waiting: dict[int, asyncio.Future[None]] = {}
        filled_waiting: dict[int, asyncio.Future[None]] = {}

        async def read() -> None:
            async for raw in ws:
                now = time.perf_counter()
                frames = json.loads(raw)
                for frame in frames if isinstance(frames, list) else [frames]:
                    kind = frame.get("type")
                    if kind in ("result", "error") and frame.get("id") in waiting:
                        results[frame["id"]] = (now, frame)
                        waiting.pop(frame["id"]).set_result(None)
                    elif kind == "update" and frame.get("channel") == "orders":
                        data = frame["data"]
                        if data.get("event") == "fill":
                            order_id = data["order"]["id"]
                            fills.setdefault(order_id, now)
                            if order_id in filled_waiting:
                                filled_waiting.pop(order_id).set_result(None)

        reader = asyncio.create_task(read())
        loop = asyncio.get_running_loop()

        last = 0.0

        async def place(request: int, order: dict[str, Any]) -> tuple[float, dict[str, Any]]:
            nonlocal last
            # A connection may send 20 frames a second (the protocol's limit): 16 here.
            await asyncio.sleep(max(0.0, last + 1 / 16 - time.perf_counter()))
            waiting[request] = loop.create_future()
            started = last = time.perf_counter()
            await ws.send(json.dumps({"op": "order.place", "id": request, "order": order}))
            await asyncio.wait_for(waiting[request], 30)
            at, frame = results.pop(request)
            assert frame["type"] == "result", frame
            return started, frame

        await asyncio.sleep(1)  # the snapshot
        placed = []
        rest = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "1.00"}
        for request in range(1, resting + 1):
            started, _ = await place(request, rest)
            placed.append((time.perf_counter() - started) * 1000)
        answered, to_fill = [], []
        for n in range(marketable):
            side = "buy" if n % 2 == 0 else "sell"
            order = {"symbol": "AAPL", "side": side, "type": "market", "quantity": "1"}
            request = resting + 1 + n
            started = time.perf_counter()
            _, frame = await place(request, order)
            answered.append((time.perf_counter() - started) * 1000)
            order_id = frame["data"]["order"]["id"]
            if order_id not in fills:
                filled_waiting[order_id] = loop.create_future()
                await asyncio.wait_for(filled_waiting[order_id], 30)
            to_fill.append((fills[order_id] - started) * 1000)
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
    return {"placed": placed, "answered": answered, "filled": to_fill}


LATE = re.compile(r"(\d+) of them met a trade of their symbol before the engine had them")


def placing(layout: str, orders: int) -> str:
    """Order placement with the simulated market at 1,000 trades/s: authenticated reads
    and REST placements in turn (the same run's baseline), placements over a websocket,
    then marketable orders placed -> filled, and the engine's count of orders a trade of
    their symbol passed between their commit and the engine taking them."""
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DATABASE_URL", "REDIS_"))},
        "TICKSTREAM_DEVELOPMENT": "true",
        "PYTHONPATH": str(ROOT),
        "PYTHONUNBUFFERED": "1",
        "LOG_LEVEL": "INFO",
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
            key = token["token"]  # type: ignore[index]
            client = Client(port, key)
            deadline = time.monotonic() + 120
            while client.call("GET", "/api/trading/account/")[1]["engine"] != "running":  # type: ignore[index]
                assert time.monotonic() < deadline, "the engine did not start"
                time.sleep(0.2)
            time.sleep(3)  # the market at its rate
            for _ in range(50):  # warm up
                client.call("GET", "/api/trading/account/")
            body = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1",
                    "price": "1.00"}  # fmt: skip
            reads, places = [], []
            for _ in range(orders):  # in turn: a slower spell of the machine falls on both
                reads.append(client.call("GET", "/api/trading/account/")[2])
                status, order, ms = client.call("POST", "/api/trading/orders/", body)
                assert status == 201, order
                places.append(ms)
            ws = asyncio.run(_ws_orders(port, key, orders, max(20, orders // 10)))
            time.sleep(1)
        finally:
            stop(server)
            if database:
                import psycopg

                with psycopg.connect(
                    "postgres://postgres@127.0.0.1:5432/postgres", autocommit=True
                ) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        text = log.read_text(errors="replace")
    late = LATE.search(text)
    read, place = _figures_ms(reads), _figures_ms(places)
    ws_place = _figures_ms(ws["placed"])
    answered, filled = _figures_ms(ws["answered"]), _figures_ms(ws["filled"])
    told = PLACEMENT.search(text)

    def row(label: str, figures: tuple[float, float, float]) -> str:
        median, p99, worst = figures
        return f"  {label:<30} median {median:5.2f}  p99 {p99:6.2f}  max {worst:6.2f} ms"

    lines = [
        f"{layout}: {orders:,} of each, the market at 1,000 trades/s",
        row("REST read of the account", read),
        row("REST placement (resting)", place),
        row("websocket order.place->result", ws_place),
        row("marketable, -> result", answered) + f"  ({len(ws['answered'])} orders)",
        row("marketable, -> fill on orders", filled) + "  (AAPL trades ~23 times a second)",
    ]
    if told is not None:
        engine = (float(told.group(1)), float(told.group(2)), float(told.group(3)))
        lines.append(row("commit -> engine (notice)", engine))
    ratio = place[1] / read[1]
    lines += [
        f"  target read p99 <= 10 ms: {read[1]:.2f} ms: {'met' if read[1] <= 10 else 'NOT met'}",
        f"  target placement p99 <= 1.5x the read's: {ratio:.2f}x: "
        f"{'met' if ratio <= 1.5 else 'NOT met'}",
        f"  target order.place p99 <= 10 ms: {ws_place[1]:.2f} ms: "
        f"{'met' if ws_place[1] <= 10 else 'NOT met'}",
    ]
    if late is None:
        lines.append("  the engine's count of late orders: not in the log")
    else:
        n = int(late.group(1))
        lines.append(
            f"  target marketable filled on the first trade after commit: {n} orders met a "
            f"trade first: {'met' if n == 0 else 'NOT met'}"
        )
    return "\n".join(lines)


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
    print(f"\nplacing orders, the simulated market at 1,000 trades/s, {orders:,} orders")
    print("  REST reads and placements in turn; then over one websocket, order.place ->")
    print("  result for resting orders, then market orders -> result -> their fill on")
    print("  `orders`; commit -> engine and late orders: the engine's own figures\n")
    for layout in ("embedded", "split"):
        print(placing(layout, orders), "\n")


if __name__ == "__main__":
    main()
