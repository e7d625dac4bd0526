"""The split layout on PostgreSQL holds a bounded number of connections: 40 parallel clients
on two web processes (and the feed process) never make the server see more than
processes x DB_POOL_SIZE, and every request is answered (it used to keep one connection
per request thread until PostgreSQL's 100 were gone and everything was a 503)."""

from __future__ import annotations

import http.client
import json
import signal
import subprocess
import threading
import time
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from tests.support import POSTGRES_URL, http_json
from tests.test_split import split_env, start_split

pytestmark = pytest.mark.redis
CLIENTS = 40
SECONDS = 6.0


def _hammer(
    port: int, token: str, stop: threading.Event, codes: Counter[int], errors: Counter[str]
) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}
    paths = ["/api/quotes/", "/api/portfolios/", "/api/trading/account/", "/api/alerts/"]
    n = 0
    while not stop.is_set():
        conn.request("GET", paths[n % len(paths)], headers=headers)
        response = conn.getresponse()
        body = response.read()
        codes[response.status] += 1
        if response.status != 200:
            errors[json.loads(body)["error"]["code"]] += 1
        n += 1
    conn.close()


@pytest.mark.parametrize(("pool", "wait_s"), [(4, "5")])
def test_forty_clients_on_two_web_processes_hold_a_bounded_pool(
    tmp_path: Path, pool: int, wait_s: str
) -> None:
    """With a pool of 4: every request answered, at most 12 connections (without the pool:
    99, PostgreSQL's limit, and 92 % of the requests a 503)."""
    name, _, ports, env = split_env(
        tmp_path,
        "pool",
        DB_POOL_SIZE=str(pool),  # the smallest the settings allow
        DB_POOL_TIMEOUT_S=wait_s,
        SIM_RATE="20",
    )
    log = tmp_path / "split.log"
    seen: list[int] = []
    codes: Counter[int] = Counter()
    errors: Counter[str] = Counter()
    try:
        proc = start_split(env, log, ports)
        try:
            status, token = http_json(
                f"http://127.0.0.1:{ports[0]}/api/auth/token/",
                data={"username": "demo", "password": "demo-tickstream"},
            )
            assert status == 200, token
            stop = threading.Event()
            clients = [
                threading.Thread(
                    target=_hammer, args=(ports[n % 2], token["token"], stop, codes, errors)
                )
                for n in range(CLIENTS)
            ]
            with psycopg.connect(POSTGRES_URL, autocommit=True) as watch:
                for client in clients:
                    client.start()
                deadline = time.monotonic() + SECONDS
                while time.monotonic() < deadline:
                    row = watch.execute(
                        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", [name]
                    ).fetchone()
                    seen.append(int(row[0]) if row else 0)
                    time.sleep(0.05)
                stop.set()
                for client in clients:
                    client.join(30)
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    finally:
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    answered = sum(codes.values())
    print(
        f"\n{CLIENTS} clients, pool {pool}, wait {wait_s} s: {answered} requests in "
        f"{SECONDS:.0f} s: {dict(codes)} {dict(errors)}; connections seen: max {max(seen)}, "
        f"bound 3 processes x {pool} = {3 * pool}"
    )
    assert max(seen) <= 3 * pool, (seen, log.read_text()[-2000:])
    assert answered > 100 and set(codes) <= {200, 503}, codes
    assert set(errors) <= {"database_unavailable"}, errors
    assert codes[200] >= 0.9 * answered, codes
