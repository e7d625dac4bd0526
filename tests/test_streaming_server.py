"""Streaming through real server processes with a real websocket client."""

from __future__ import annotations

import asyncio
import json
import socket
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import websockets

from tests.support import (
    REDIS_URL,
    dev_env,
    free_port,
    http_json,
    process,
    reachable,
    received,
    server_args,
    wait_for_quotes,
    wait_until,
)


async def collect(url: str, channels: list[str], seconds: float) -> list[dict[str, Any]]:
    """Subscribe and collect every message for `seconds`."""
    async with websockets.connect(url, open_timeout=10) as ws:
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "channels": channels}))
        return await received(ws, seconds)


def _trades(messages: list[dict[str, Any]]) -> list[tuple[int, str]]:
    return [
        (m["seq"], m["data"]["price"])
        for m in messages
        if m["type"] == "update" and m["channel"].startswith("trades:")
    ]


def test_a_real_client_gets_a_snapshot_then_every_trade_in_order(tmp_path: Path) -> None:
    port = free_port()
    env = dev_env(tmp_path, SIM_RATE="100", SIM_SYMBOLS="BTC-USD,ETH-USD")
    with process(server_args(port), env, tmp_path / "server.log"):
        wait_for_quotes(f"http://127.0.0.1:{port}", timeout=30)
        got = asyncio.run(
            collect(
                f"ws://127.0.0.1:{port}/ws/v1/",
                ["ticker:BTC-USD", "trades:BTC-USD", "candles:BTC-USD:1s"],
                3,
            )
        )
    assert got[0]["type"] == "welcome" and got[1]["type"] == "subscribed"
    snapshots = {m["channel"]: m for m in got if m["type"] == "snapshot"}
    assert set(snapshots) == {"ticker:BTC-USD", "trades:BTC-USD", "candles:BTC-USD:1s"}
    trades = _trades(got)
    assert len(trades) > 20
    start = snapshots["trades:BTC-USD"]["seq"]
    assert [s for s, _ in trades] == list(range(start + 1, start + 1 + len(trades)))
    assert "gap" not in {m["type"] for m in got}
    # Prices travel at the instrument's precision (BTC-USD: 0.01), as a trader reads them.
    assert all(len(price.partition(".")[2]) <= 2 for _, price in trades), trades[:3]


@pytest.mark.redis
def test_two_web_processes_send_the_same_sequence(tmp_path: Path, postgres_database: str) -> None:
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    ports = [free_port(), free_port()]
    common = dev_env(
        tmp_path,
        DATABASE_URL=postgres_database,
        REDIS_URL=REDIS_URL,
        CHANNEL_PREFIX=f"ts{uuid.uuid4().hex[:6]}",
        FEEDS_MODE="external",
    )
    with process(server_args(ports[0]), common, tmp_path / "web0.log"):
        wait_until(
            lambda: http_json(f"http://127.0.0.1:{ports[0]}/api/instruments/")[0] == 200, timeout=40
        )
        with (
            process(server_args(ports[1]), common, tmp_path / "web1.log"),
            process(
                [
                    sys.executable,
                    "manage.py",
                    "runfeeds",
                    "--feeds",
                    "simulated symbols=ETH-USD rate=40 seed=9",
                ],
                common,
                tmp_path / "feed.log",
            ),
        ):
            wait_until(lambda: http_json(f"http://127.0.0.1:{ports[1]}/api/quotes/")[1], timeout=40)

            async def both() -> list[list[dict[str, Any]]]:
                return await asyncio.gather(
                    *(collect(f"ws://127.0.0.1:{p}/ws/v1/", ["trades:ETH-USD"], 4) for p in ports)
                )

            first, second = asyncio.run(both())
    a, b = dict(_trades(first)), dict(_trades(second))
    common_seqs = sorted(set(a) & set(b))
    assert len(common_seqs) > 40
    assert all(a[s] == b[s] for s in common_seqs)  # same seq, same trade, in both processes


def test_a_client_that_stops_reading_is_closed_with_4008_and_others_are_not_held_up(
    tmp_path: Path,
) -> None:
    from websockets.sync.client import connect as sync_connect

    port = free_port()
    env = dev_env(tmp_path, SIM_RATE="2000", STREAM_SLOW_CLOSE_S="1")
    with process(server_args(port), env, tmp_path / "server.log"):
        quotes = wait_for_quotes(f"http://127.0.0.1:{port}", timeout=30)
        symbols = [q["symbol"] for q in quotes]
        channels = [f"{kind}:{s}" for s in symbols for kind in ("trades", "ticker", "analysis")] + [
            f"candles:{s}:1s" for s in symbols
        ]
        # A client library that stops reading the socket as soon as one message waits
        # unread, on a socket with a bounded receive buffer: the kernel's buffers fill,
        # then the server's writes back up for real. Read again later, it must find the
        # frames sent before the server gave up, then a close with 4008.
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 256 * 1024)
        sock.connect(("127.0.0.1", port))
        url = f"ws://127.0.0.1:{port}/ws/v1/"
        with sync_connect(url, sock=sock, max_queue=1, open_timeout=10, ping_interval=None) as slow:
            slow.send(json.dumps({"op": "subscribe", "id": 1, "channels": channels}))
            healthy = asyncio.run(collect(url, ["trades:BTC-USD"], 8))
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    slow.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4008
    trades = _trades(healthy)
    assert len(trades) > 20
    assert [s for s, _ in trades] == list(range(trades[0][0], trades[0][0] + len(trades)))
