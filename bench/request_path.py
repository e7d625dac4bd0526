"""The request path in process: Django's ASGI handler against tickstream's (a fixed set of
request threads, the sync work in one hop), with the event loop idle and busy.

    python bench/request_path.py        (make bench-trading runs it)

The demo user's paper account read (`GET /api/trading/account/`, token authentication)
on a fresh SQLite database, through each handler called as uvicorn calls it, one request
after another; the loop either idle, or busy half the time in slices of 2 or 5 ms (as a
busy market keeps it). Each figure is median / p99 of 300 requests, the handlers taken in
turn so that a slower spell of the machine falls on all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def setup() -> str:
    from bench.common import django_in_process

    django_in_process()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from rest_framework.authtoken.models import Token

    call_command("migrate", verbosity=0)
    with contextlib.redirect_stdout(io.StringIO()):
        call_command("setup_demo")
        call_command("setup_demo_data")
    return str(Token.objects.get_or_create(user=User.objects.get(username="demo"))[0].key)


async def request(app: Any, path: str, token: str) -> int:
    from tests.asgi import get

    headers = [(b"host", b"127.0.0.1"), (b"authorization", f"Token {token}".encode())]
    status, _ = await get(app, path, headers)
    return status


async def measure(app: Any, token: str, busy_ms: float, n: int = 300) -> tuple[float, float]:
    stop = False

    async def burner() -> None:  # the loop busy half the time, in slices of busy_ms
        while not stop:
            started = time.perf_counter()
            while time.perf_counter() - started < busy_ms / 1000:
                pass
            await asyncio.sleep(busy_ms / 1000)

    task = asyncio.create_task(burner()) if busy_ms else None
    for _ in range(30):
        await request(app, "/api/trading/account/", token)
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        assert await request(app, "/api/trading/account/", token) == 200
        samples.append((time.perf_counter() - started) * 1000)
    stop = True
    if task is not None:
        await task
    samples.sort()
    return statistics.median(samples), samples[int(n * 0.99)]


def main() -> None:
    token = setup()
    from django.core.handlers.asgi import ASGIHandler

    from tickstream.handler import PooledASGIHandler

    apps = {"Django's handler": ASGIHandler(), "tickstream's": PooledASGIHandler(4)}

    async def run() -> None:
        print("the account read in process, median / p99 ms of 300 requests\n")
        print(f"  {'the event loop':<34}" + "".join(f"{name:>22}" for name in apps))
        for busy, label in ((0, "idle"), (2, "busy half the time, 2 ms slices"),
                            (5, "busy half the time, 5 ms slices")):  # fmt: skip
            cells = []
            for app in apps.values():
                median, p99 = await measure(app, token, busy)
                cells.append(f"{median:8.2f} / {p99:6.2f}")
            print(f"  {label:<34}" + "".join(f"{c:>22}" for c in cells))

    asyncio.run(run())


if __name__ == "__main__":
    main()
