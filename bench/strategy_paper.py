"""Paper-mode benchmark: strategies as clients of one server, and how fast they react.

    make bench-strategy-paper        (or: python bench/strategy_paper.py [--quick])

A real server (development mode, SQLite, the simulated market at 1,000 trades/s over
AAPL, MSFT and BTC-USD), and 20 strategies, each signed in as its own user and run by the
paper client (`strategy/paper.py`) in this process, all following the same three symbols:
one feed, whatever the number of strategies. Each strategy places a limit order (far from
the market, so it rests) on a trade every 2 s and cancels its previous one: within the
venue's limits (10 orders a second a user, 20 messages a second a socket).

Reaction: from the trade's receipt by the server (its `ts_recv`) to the order's creation
in the server's database (`created_at` of the placement's answer): both the server's clock.
Also the client's own share: the trade's arrival at the client to the order sent. Prints
the median, p99 and max, for one strategy alone (the same-run baseline) and for 20 at
once, at the Hub's default 100 ms flush and with each update sent at once (flush 0). Also
the feed's rate with and without the strategies connected (one feed: no extra load).
Goal (issue 27): p99 <= 20 ms with 20 strategies at 1,000 trades/s.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.fanout import free_port, stop, wait_port  # noqa: E402
from tickstream.market.core.analytics.intervals import parse_interval  # noqa: E402
from tickstream.market.core.instruments import InstrumentSpec  # noqa: E402
from tickstream.market.core.ticks import Tick  # noqa: E402
from tickstream.strategy.cli import server_instruments  # noqa: E402
from tickstream.strategy.core.api import Context, OrderAccepted, Strategy  # noqa: E402
from tickstream.strategy.paper import Paper  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "BTC-USD"]
USERS = 20

MAKE_USERS = """
import json
from decimal import Decimal
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token
from tickstream.trading import services
tokens = []
for n in range({users}):
    user, _ = get_user_model().objects.get_or_create(username=f"bench{{n}}")
    token, _ = Token.objects.get_or_create(user=user)
    account = services.account_get_or_create(user=user)
    services.transfer_make(account=account, amount=Decimal(1_000_000))
    tokens.append(token.key)
print(json.dumps(tokens))
"""


class Reactor(Strategy):
    """A limit buy 5 % under a trade every `every_s` of trade time, the last one cancelled."""

    def __init__(self, symbol: str, every_s: float = 2.0) -> None:
        self.symbol, self.every_ns = symbol, int(every_s * 1e9)
        self.next_ns = 0
        self.previous: str | None = None
        self.asked: dict[str, int] = {}  # client id -> the trade's ts_recv
        self.accepted: list[str] = []
        self.sent: dict[str, int] = {}  # client id -> when the hook asked (this clock)
        self.arrival_ms: list[float] = []  # the trade's receipt by the server -> here

    def on_trade(self, ctx: Context, tick: Tick) -> None:
        if tick.symbol != self.symbol or tick.ts_event < self.next_ns:
            return
        self.next_ns = tick.ts_event + self.every_ns
        if self.previous is not None and self.previous in ctx.open_orders():
            ctx.cancel(self.previous)
        step = Decimal("0.01")
        price = (tick.price * Decimal("0.95")).quantize(step)
        quantity = Decimal(1) if self.symbol != "BTC-USD" else Decimal("0.001")
        order = ctx.buy(self.symbol, quantity, price=price)
        self.asked[order] = tick.ts_recv
        self.sent[order] = time.time_ns()
        self.arrival_ms.append((time.time_ns() - tick.ts_recv) / 1e6)
        self.previous = order

    def on_order(self, ctx: Context, order: str, update: object) -> None:
        if isinstance(update, OrderAccepted):
            self.accepted.append(order)


def figures(samples: list[float]) -> str:
    if not samples:
        return "no sample"
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (
        f"median {statistics.median(ordered):6.1f} ms  p99 {p99:6.1f} ms  "
        f"max {ordered[-1]:6.1f} ms  ({len(ordered)} orders)"
    )


def specs(port: int) -> list[InstrumentSpec]:
    return server_instruments(f"ws://127.0.0.1:{port}/ws/v1/")


def feed_rate(port: int, seconds: float) -> float:
    """Trades/s the server's feed produced over `seconds` (its feeds API's counters)."""

    def count() -> int:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/feeds/") as answer:  # noqa: S310
            return sum(int(f.get("ticks", 0)) for f in json.loads(answer.read())["feeds"])

    first, start = count(), time.monotonic()
    time.sleep(seconds)
    return (count() - first) / (time.monotonic() - start)


async def run_strategies(
    port: int, tokens: list[str], seconds: float
) -> tuple[list[float], list[float], int]:
    instruments = specs(port)
    runners = []
    for n, token in enumerate(tokens):
        strategy = Reactor(SYMBOLS[n % len(SYMBOLS)])
        paper = Paper(
            strategy, url=f"ws://127.0.0.1:{port}/ws/v1/", token=token, symbols=SYMBOLS,
            instruments=instruments, intervals=[parse_interval("1m")], indicators=[],
            keep_tape=False,
        )  # fmt: skip
        runners.append((strategy, paper))
    results = await asyncio.gather(*(p.run(duration_s=seconds) for _, p in runners))
    server_ms: list[float] = []
    client_ms: list[float] = []
    arrival_ms: list[float] = []
    placing_ms: list[float] = []
    gaps = 0
    for (strategy, paper), run in zip(runners, results, strict=True):
        gaps += run.gaps
        client_ms.extend(run.reaction_ms)
        arrival_ms.extend(strategy.arrival_ms)
        for client, created in paper.accepted_at:
            received = strategy.asked.get(client)
            if received is None:
                continue
            at = datetime.fromisoformat(created.replace("Z", "+00:00")).timestamp()
            server_ms.append((at - received / 1e9) * 1000)
            placing_ms.append((at - strategy.sent[client] / 1e9) * 1000)
    print(f"{'':24}trade to the strategy {figures(arrival_ms)}")
    print(f"{'':24}order sent to created {figures(placing_ms)}")
    return server_ms, client_ms, gaps


def phase(flush_ms: int, seconds: float, var: str, quick: bool, database: str = "") -> None:
    env = {
        **os.environ,
        "TICKSTREAM_DEVELOPMENT": "true",
        "TICKSTREAM_VAR_DIR": var,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SIM_BACKFILL_S": "0",
        "SIM_RATE": "1000",
        "SIM_SYMBOLS": ",".join(SYMBOLS),
        "STREAM_FLUSH_MS": str(flush_ms),
        **({"DATABASE_URL": database} if database else {}),
    }
    made = subprocess.run(
        [sys.executable, "manage.py", "migrate", "-v0"], env=env, cwd=ROOT, check=True
    )
    del made
    tokens = json.loads(
        subprocess.run(
            [sys.executable, "manage.py", "shell", "-c", MAKE_USERS.format(users=USERS)],
            env=env, cwd=ROOT, check=True, capture_output=True, text=True,
        ).stdout.strip().splitlines()[-1]
    )  # fmt: skip
    port = free_port()
    log = Path(var) / f"server-{flush_ms}.log"
    server = subprocess.Popen(
        [sys.executable, "-m", "tickstream", "run", "--port", str(port)],
        env=env, cwd=ROOT, stdout=log.open("wb"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        wait_port(port)
        time.sleep(3)  # the engine's first beat, the feed at full rate
        alone_rate = feed_rate(port, 3)
        server_ms, client_ms, gaps = asyncio.run(run_strategies(port, tokens[:1], seconds / 2))
        print(f"flush {flush_ms} ms, 1 strategy:    server {figures(server_ms)}")
        print(f"{'':24}client {figures(client_ms)}; gaps {gaps}")
        task_rate: list[float] = []

        async def both() -> tuple[list[float], list[float], int]:
            loop = asyncio.get_running_loop()
            rate = loop.run_in_executor(None, feed_rate, port, seconds / 2)
            out = await run_strategies(port, tokens, seconds)
            task_rate.append(await rate)
            return out

        server_ms, client_ms, gaps = asyncio.run(both())
        print(f"flush {flush_ms} ms, {USERS} strategies: server {figures(server_ms)}")
        print(f"{'':24}client {figures(client_ms)}; gaps {gaps}")
        print(
            f"{'':24}feed: {alone_rate:,.0f} trades/s alone, {task_rate[0]:,.0f} with "
            f"{USERS} strategies connected"
        )
        if server_ms:
            ordered = sorted(server_ms)
            p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
            print(f"{'':24}goal p99 <= 20 ms: {'met' if p99 <= 20 else 'NOT met'}\n")
    finally:
        stop(server)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="10 s per phase, flush 20 ms only")
    parser.add_argument("--postgres", action="store_true", help="also on 127.0.0.1:5432")
    parser.add_argument("--flush", type=int, action="append", help="STREAM_FLUSH_MS, repeatable")
    options = parser.parse_args()
    seconds = 10.0 if options.quick else 30.0
    print(f"paper strategies on one server: simulated market at 1,000 trades/s over {SYMBOLS}\n")
    flushes = options.flush or ([20] if options.quick else [100, 20, 0])
    with tempfile.TemporaryDirectory() as var:
        print("== SQLite (make run's database)")
        for flush_ms in flushes:
            phase(flush_ms, seconds, var, options.quick)
    if options.postgres:
        import uuid

        import psycopg

        name = f"tickstream_bench_{uuid.uuid4().hex[:8]}"
        admin = "postgresql://postgres@127.0.0.1:5432/postgres"
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            print("== PostgreSQL")
            with tempfile.TemporaryDirectory() as var:
                for flush_ms in flushes:
                    phase(
                        flush_ms, seconds, var, options.quick, admin.rsplit("/", 1)[0] + "/" + name
                    )
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
