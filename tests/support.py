"""Helpers for tests that run real processes: free ports, servers, service checks."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=1):
            return True
    except OSError:
        return False


def http_json(
    url: str, *, data: Any = None, headers: dict[str, str] | None = None, timeout: float = 10
) -> tuple[int, Any]:
    body = None if data is None else json.dumps(data).encode()
    request = urllib.request.Request(
        url, data=body, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"null")


def wait_until(check: Any, *, timeout: float = 30, interval: float = 0.2) -> Any:
    """Poll `check()` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        try:
            last = check()
        except (OSError, ValueError) as exc:
            last = exc
        else:
            if last:
                return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last: {last!r})")


@contextmanager
def process(args: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """Run a process for the duration of the block, then stop it with SIGINT (or kill)."""
    full_env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(
            ("DJANGO_", "TICKSTREAM_", "DATABASE_URL", "REDIS_URL", "FEEDS", "SIM_")
        )
    }
    # No backfilled past unless a test asks for it: most tests watch the live market only.
    full_env["SIM_BACKFILL_S"] = "0"
    full_env.update(env)
    with log.open("wb") as out:
        proc = subprocess.Popen(
            args,
            cwd=ROOT,
            env=full_env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
        try:
            yield proc
        finally:
            stop(proc)


def stop(proc: subprocess.Popen[bytes], timeout: float = 20) -> int:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)
    return proc.returncode


def dev_env(var: Path, **settings: str) -> dict[str, str]:
    """The environment of a development-mode server keeping its files in `var`."""
    return {"TICKSTREAM_DEVELOPMENT": "true", "TICKSTREAM_VAR_DIR": str(var), **settings}


def server_args(port: int) -> list[str]:
    return [sys.executable, "-m", "tickstream", "run", "--port", str(port)]


def wait_for_quotes(base: str, symbols: str = "", *, timeout: float = 30) -> list[dict[str, Any]]:
    """Poll a server's `/api/quotes/` until it has quotes (of `symbols`, comma-separated)."""
    query = f"?symbols={symbols}" if symbols else ""
    return wait_until(lambda: http_json(f"{base}/api/quotes/{query}")[1], timeout=timeout)


def trades_problems(messages: list[dict[str, Any]], channel: str) -> list[str]:
    """Where one client's view of a `trades:` channel is not whole (empty when it is): each
    update one more than the last, gaps named by a `gap` notice that starts right after;
    a snapshot (fresh or reset) starts afresh."""
    problems: list[str] = []
    seq = None
    for m in messages:
        if m.get("channel") != channel:
            continue
        if m["type"] == "snapshot":
            seq = m["seq"]
        elif m["type"] == "gap":
            if seq is None or m["from"] != seq + 1 or m["to"] < m["from"]:
                problems.append(f"gap {m['from']}-{m['to']} after {seq}")
            seq = m["to"]
        elif m["type"] == "update":
            if seq is None or m["seq"] != seq + 1:
                problems.append(f"update {m['seq']} after {seq}")
            seq = m["seq"]
    return problems


async def received(ws: Any, seconds: float) -> list[dict[str, Any]]:
    """Every message a websocket receives for `seconds`, batches flattened."""
    return [m for _, m in await timed(ws, seconds)]


async def timed(ws: Any, seconds: float) -> list[tuple[float, dict[str, Any]]]:
    """`received`, each message with the loop time it arrived at."""
    out: list[tuple[float, dict[str, Any]]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    while (left := end - loop.time()) > 0:
        try:
            raw = await asyncio.wait_for(ws.recv(), left)
        except TimeoutError:
            break
        now = loop.time()
        out.extend((now, m) for m in json_messages(raw))
    return out


async def collect_frames(
    url: str, channels: list[str], seconds: float
) -> list[tuple[float, dict[str, Any]]]:
    """Subscribe to `channels` and keep every message with the time it arrived, for
    `seconds` from the subscription's answer. A server still starting may answer
    `unavailable` (no snapshot in time): asked again, as a client does, up to 5 times."""
    import websockets

    async with websockets.connect(url, open_timeout=10) as ws:
        loop = asyncio.get_running_loop()
        for attempt in range(1, 6):
            await ws.send(json.dumps({"op": "subscribe", "id": attempt, "channels": channels}))
            answer, first = None, []  # the answer, and what came in its frame after it
            while answer is None:
                for m in json_messages(await asyncio.wait_for(ws.recv(), 15)):
                    if answer is not None:
                        first.append((loop.time(), m))
                    elif m.get("id") == attempt and m["type"] in ("subscribed", "error"):
                        answer = m
            if answer["type"] == "subscribed" or answer.get("code") != "unavailable":
                break
            await asyncio.sleep(1)
        return first + await timed(ws, seconds)


def json_messages(raw: str | bytes) -> list[dict[str, Any]]:
    """The messages of one frame (a batch is a JSON array)."""
    data = json.loads(raw)
    return data if isinstance(data, list) else [data]
