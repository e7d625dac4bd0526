"""The product as a user runs it: real server processes, real HTTP, real services."""

from __future__ import annotations

import csv
import re
import sys
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import fixture_path
from tests.support import (
    REDIS_URL,
    dev_env,
    free_port,
    http_json,
    process,
    reachable,
    server_args,
    stop,
    wait_for_quotes,
    wait_until,
)


def _start(base: str, log: Path) -> str:
    """Wait until the server answers HTTP; return the demo user's API token it printed."""
    match = wait_until(lambda: re.search(r"API token ([0-9a-f]{40})", log.read_text()))
    wait_until(lambda: http_json(f"{base}/api/instruments/?kind=crypto")[0] == 200, timeout=30)
    return match.group(1)


def test_simulated_market_runs_and_the_api_serves_it(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log = tmp_path / "server.log"
    env = dev_env(tmp_path, SIM_RATE="200", SIM_SEED="42", SIM_SYMBOLS="BTC-USD,ETH-USD,SOL-USD")
    with process(server_args(port), env, log) as server:
        token = _start(base, log)
        quotes = wait_until(
            lambda: (
                len(http_json(f"{base}/api/quotes/")[1]) == 3
                and http_json(f"{base}/api/quotes/")[1]
            ),
            timeout=30,
        )
        assert {q["symbol"] for q in quotes} == {"BTC-USD", "ETH-USD", "SOL-USD"}

        def closed_seconds() -> list[dict]:
            _, page = http_json(f"{base}/api/candles/?symbol=BTC-USD&interval=1s&limit=50")
            closed = [c for c in page["candles"] if c["closed"]]
            return closed if len(closed) >= 3 else []

        candles = wait_until(closed_seconds, timeout=30)
        for c in candles:
            assert Decimal(c["low"]) <= min(Decimal(c["open"]), Decimal(c["close"]))
            assert Decimal(c["high"]) >= max(Decimal(c["open"]), Decimal(c["close"]))
        times = [c["t"] for c in candles]
        assert times == sorted(times) and len(set(times)) == len(times)

        # A custom source pushes ticks over HTTP into the same pipeline.
        now = datetime.now(UTC).isoformat()
        status, result = http_json(
            f"{base}/api/ticks",
            data={
                "ticks": [
                    {
                        "symbol": "AAPL",
                        "price": "231.17",
                        "size": "300",
                        "ts": now,
                        "trade_id": "x1",
                    },
                    {
                        "symbol": "AAPL",
                        "price": "231.18",
                        "size": "300",
                        "ts": now,
                        "trade_id": "x1",
                    },
                ]
            },
            headers={"Authorization": f"Token {token}"},
        )
        assert (status, result["accepted"], result["rejected"][0]["code"]) == (200, 1, "duplicate")
        aapl = wait_for_quotes(base, "AAPL", timeout=10)
        assert (aapl[0]["last"], aapl[0]["volume"]) == ("231.17", "300")
        assert stop(server) == 0
    text = log.read_text()
    assert "market runtime stopped" in text and "'pending': 0" in text
    assert "'failures': 0" in text and "Traceback" not in text


def test_replay_feed_rebuilds_a_real_file_through_the_whole_system(tmp_path: Path) -> None:
    source = fixture_path("mplfinance", "yahoofinance-SPY-20200901-20210113.csv")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dev_env(tmp_path, FEEDS=f"replay symbol=SPY file={source} speed=max")
    with process(server_args(port), env, tmp_path / "server.log") as server:

        def all_days() -> list[dict]:
            status, page = http_json(f"{base}/api/candles/?symbol=SPY&interval=1d&limit=200")
            return page["candles"] if status == 200 and len(page["candles"]) == 92 else []

        candles = wait_until(all_days, timeout=60)
        assert stop(server) == 0
    with source.open() as handle:
        bars = list(csv.DictReader(handle))
    assert len(bars) == len(candles)
    for bar, candle in zip(bars, candles, strict=True):
        assert candle["time"] == f"{bar['Date']}T00:00:00Z"
        for key in ("Open", "High", "Low", "Close", "Volume"):
            assert Decimal(candle[key.lower()]) == Decimal(bar[key]), (bar["Date"], key)


@pytest.mark.redis
def test_split_deployment_feed_process_web_process_redis_postgres(
    tmp_path: Path, postgres_database: str
) -> None:
    """The scaled-out layout: a web process and a separate feed process share PostgreSQL
    and a Redis channel layer; HTTP ingest on the web reaches the feed process's pipeline."""
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    prefix = f"ts{uuid.uuid4().hex[:6]}"
    common = dev_env(
        tmp_path,
        DATABASE_URL=postgres_database,
        REDIS_URL=REDIS_URL,
        CHANNEL_PREFIX=prefix,
        FEEDS_MODE="external",
    )
    web_log, feed_log = tmp_path / "web.log", tmp_path / "feed.log"
    with process(server_args(port), common, web_log) as web:
        token = _start(base, web_log)  # migrated, seeded, serving
        status, body = http_json(
            f"{base}/api/ticks",
            data={"ticks": [{"symbol": "AAPL", "price": "1"}]},
            headers={"Authorization": f"Token {token}"},
        )
        assert (status, body["error"]["code"]) == (503, "pipeline_unavailable")
        feed_env = {**common, "FEEDS": "simulated symbols=ETH-USD rate=50 seed=3"}
        with process([sys.executable, "manage.py", "runfeeds"], feed_env, feed_log) as feed:
            wait_until(lambda: "feeds running" in feed_log.read_text(), timeout=30)
            assert "(event loop: uvloop)" in feed_log.read_text()  # as the web process's
            eth = wait_until(
                lambda: http_json(f"{base}/api/quotes/?symbols=ETH-USD")[1], timeout=20
            )
            assert Decimal(eth[0]["last"]) > 0
            now = datetime.now(UTC).isoformat()
            status, result = http_json(
                f"{base}/api/ticks",
                data={
                    "ticks": [
                        {
                            "symbol": "AAPL",
                            "price": "229.01",
                            "size": "10",
                            "ts": now,
                            "trade_id": "s1",
                        },
                        {
                            "symbol": "AAPL",
                            "price": "229.02",
                            "size": "10",
                            "ts": now,
                            "trade_id": "s1",
                        },
                        {"symbol": "AAPL", "price": "0", "size": "10"},
                    ]
                },
                headers={"Authorization": f"Token {token}"},
            )
            assert status == 200, result
            assert result["accepted"] == 1
            assert [r["code"] for r in result["rejected"]] == ["duplicate", "bad_price"]
            aapl = wait_for_quotes(base, "AAPL", timeout=10)
            assert aapl[0]["last"] == "229.01"
            assert stop(feed) == 0
        assert stop(web) == 0
    assert "stopped:" in feed_log.read_text()
    assert "Traceback" not in web_log.read_text() + feed_log.read_text()


def _ws_snapshot(port: int, channel: str) -> dict:
    """The first answer to a subscribe: a snapshot, or the error."""
    import asyncio
    import json

    import websockets

    async def ask() -> dict:
        async with websockets.connect(f"ws://127.0.0.1:{port}/ws/v1/", open_timeout=10) as ws:
            await ws.recv()  # welcome
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "channels": [channel]}))
            while True:
                frame = json.loads(await asyncio.wait_for(ws.recv(), 10))
                for m in frame if isinstance(frame, list) else [frame]:
                    if m["type"] in ("snapshot", "error"):
                        return m

    return asyncio.run(ask())


def test_the_ticks_that_once_broke_the_product_are_refused_and_a_restart_works(
    tmp_path: Path,
) -> None:
    """An authorised publisher pushes each tick that used to take the product down; each
    is refused with its code, the API keeps answering, the market keeps moving, and the
    server restarts on the same database."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = dev_env(tmp_path, SIM_RATE="100", SIM_SEED="9", SIM_SYMBOLS="KO,BTC-USD")
    critical = [
        ({"symbol": "KO", "price": "60", "size": "1e400"}, "size_out_of_range"),
        ({"symbol": "KO", "price": "1e400"}, "price_out_of_range"),
        ({"symbol": "KO", "price": "1e-30"}, "price_too_precise"),
        ({"symbol": "KO", "price": "9" * 100_000}, "malformed_tick"),
        ({"symbol": "KO", "price": "60", "size": "1" * 40}, "size_out_of_range"),
    ]
    for attempt in ("first", "restart"):
        log = tmp_path / f"server-{attempt}.log"
        with process(server_args(port), env, log) as server:
            token = _start(base, log)
            if attempt == "first":
                for tick, code in critical:
                    status, result = http_json(
                        f"{base}/api/ticks",
                        data={"ticks": [tick]},
                        headers={"Authorization": f"Token {token}"},
                    )
                    assert status == 422, result
                    assert [r["code"] for r in result["rejected"]] == [code]

            def moved_past(seen: dict[str, int]) -> list[dict]:
                status, quotes = http_json(f"{base}/api/quotes/?symbols=KO,BTC-USD")
                if status != 200 or len(quotes) != 2:
                    return []
                return quotes if all(q["trades"] > seen.get(q["symbol"], 0) for q in quotes) else []

            seen: dict[str, int] = {}
            for _ in range(2):  # the market moves on (and the writer keeps writing)
                quotes = wait_until(lambda seen=seen: moved_past(seen), timeout=30)
                seen = {q["symbol"]: q["trades"] for q in quotes}
            status, page = http_json(f"{base}/api/candles/?symbol=KO&interval=1s&limit=5")
            assert status == 200 and page["candles"]
            assert _ws_snapshot(port, "trades:KO")["type"] == "snapshot"
            assert stop(server) == 0
        text = log.read_text()
        assert "Traceback" not in text and "startup failed" not in text
        assert "'failures': 0" in text and "'faults': {}" in text
