"""Past one machine: two web processes and a feed process on Redis and PostgreSQL. A
transaction written through one web process reaches a portfolio page open on the other at
once; an alert fires exactly once (in the feed process) and reaches the owner on both; a
paper order placed through one web process is filled by the matching engine in the feed
process and its fill reaches the owner on both."""

from __future__ import annotations

import asyncio
import json
import sys
import uuid
from decimal import Decimal
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
    wait_until,
)

pytestmark = pytest.mark.redis


def test_changes_and_alerts_cross_web_processes(tmp_path: Path, postgres_database: str) -> None:
    if not reachable("127.0.0.1", 6379):
        pytest.skip("Redis is not running on 127.0.0.1:6379")
    ports = [free_port(), free_port()]
    bases = [f"http://127.0.0.1:{p}" for p in ports]
    common = dev_env(
        tmp_path,
        DATABASE_URL=postgres_database,
        REDIS_URL=REDIS_URL,
        CHANNEL_PREFIX=f"ts{uuid.uuid4().hex[:6]}",
        FEEDS_MODE="external",
        ALERTS_REFRESH_S="0.2",
    )
    feed = [sys.executable, "manage.py", "runfeeds", "--feeds", "simulated symbols=ETH-USD rate=40"]
    with process(server_args(ports[0]), common, tmp_path / "web0.log"):
        wait_until(lambda: http_json(f"{bases[0]}/api/instruments/")[0] == 200, timeout=40)
        with (
            process(server_args(ports[1]), common, tmp_path / "web1.log"),
            process(feed, common, tmp_path / "feed.log"),
        ):
            eth = wait_until(
                lambda: http_json(f"{bases[1]}/api/quotes/?symbols=ETH-USD")[1], timeout=40
            )
            last = Decimal(eth[0]["last"])
            token = http_json(
                f"{bases[0]}/api/auth/token/",
                data={"username": "demo", "password": "demo-tickstream"},
            )[1]["token"]
            auth = {"Authorization": f"Token {token}"}
            status, made = http_json(
                f"{bases[0]}/api/portfolios/", data={"name": "Split"}, headers=auth
            )
            assert status == 201, made
            pid = made["id"]
            txs = f"{bases[0]}/api/portfolios/{pid}/transactions/"
            buy = {"kind": "buy", "symbol": "ETH-USD", "quantity": "2", "price": str(last)}
            assert (
                http_json(txs, data={**buy, "time": "2026-01-05T10:00:00Z"}, headers=auth)[0] == 201
            )

            async def scenario() -> tuple[list[Any], list[Any], list[Any]]:
                url = f"ws://127.0.0.1:{{}}/ws/v1/?token={token}"
                async with (
                    websockets.connect(url.format(ports[1]), open_timeout=10) as page,
                    websockets.connect(url.format(ports[0]), open_timeout=10) as other,
                ):
                    channels = [f"portfolio:{pid}", "alerts", "orders"]
                    await page.send(json.dumps({"op": "subscribe", "id": 1, "channels": channels}))
                    await other.send(
                        json.dumps({"op": "subscribe", "id": 1, "channels": ["alerts", "orders"]})
                    )
                    before = await received(page, 1.5)
                    # A transaction through web 0 ...
                    more = {**buy, "quantity": "1", "time": "2026-01-06T10:00:00Z"}
                    await asyncio.to_thread(http_json, txs, data=more, headers=auth)
                    # ... and alerts either side of the price as it is now (it moves a few
                    # dollars in seconds), at several distances so some fire within the
                    # window; evaluated in the feed process.
                    quote = await asyncio.to_thread(
                        http_json, f"{bases[0]}/api/quotes/?symbols=ETH-USD"
                    )
                    now = Decimal(quote[1][0]["last"])
                    offsets = [Decimal(x) for x in ("0.01", "0.05", "0.25", "1", "3", "10")]
                    bands = [("above", now + d) for d in offsets]
                    for condition, level in bands + [("below", now - d) for d in offsets]:
                        await asyncio.to_thread(
                            http_json,
                            f"{bases[0]}/api/alerts/",
                            data={"symbol": "ETH-USD", "condition": condition, "value": str(level)},
                            headers=auth,
                        )
                    # A paper buy above the market, through web 0: the engine in the feed
                    # process fills it on the next trade.
                    order = {"symbol": "ETH-USD", "side": "buy", "type": "limit",
                             "quantity": "0.5", "price": str(last * 2)}  # fmt: skip
                    status, placed = await asyncio.to_thread(
                        http_json, f"{bases[0]}/api/trading/orders/", data=order, headers=auth
                    )
                    assert status == 201, placed
                    after, seen = await asyncio.gather(received(page, 10), received(other, 12))
                    return before, after, seen

            before, after, seen = asyncio.run(scenario())
            firings = http_json(f"{bases[0]}/api/alerts/", headers=auth)[1]
            fills = http_json(f"{bases[1]}/api/trading/fills/", headers=auth)[1]
    snapshot = next(
        m for m in before if m["type"] == "snapshot" and m["channel"].startswith("portfolio:")
    )
    assert snapshot["data"]["holdings"][0]["quantity"] == "2"
    updates = [
        m["data"] for m in after if m["type"] == "update" and m["channel"] == f"portfolio:{pid}"
    ]
    whole = [u for u in updates if "holdings" in u]
    assert whole and whole[0]["holdings"][0]["quantity"] == "3"  # web 0's write, seen on web 1
    assert any("prices" in u and u["version"] == whole[-1]["version"] for u in updates)
    # Each firing once, stored once, and on both processes' connections of the owner.
    stored = sum(a["fired_count"] for a in firings if a["symbol"] == "ETH-USD")
    assert stored >= 1
    fired_here = [m["data"] for m in after if m["type"] == "update" and m["channel"] == "alerts"]
    fired_there = [m["data"] for m in seen if m["type"] == "update" and m["channel"] == "alerts"]
    # The page listened 10 s, the other connection 12 s: the page's firings are the first
    # of the other's, in the same order, and no firing came twice.
    assert len(fired_here) >= 1
    assert fired_there[: len(fired_here)] == fired_here
    assert len({(f["alert"], f["time"]) for f in fired_there}) == len(fired_there)
    assert len(fired_there) <= stored
    # The paper order: filled (over as many trades as their sizes needed) by the one engine,
    # each fill stored once and pushed once to both processes' connections.
    assert sum(Decimal(f["quantity"]) for f in fills) == Decimal("0.5")
    assert {f["liquidity"] for f in fills} <= {"taker", "maker"} and len(
        {f["trade"] for f in fills}
    ) == len(fills)
    for messages in (after, seen):
        pushed = [m["data"] for m in messages if m["type"] == "update" and m["channel"] == "orders"]
        filled = [p for p in pushed if p["event"] == "fill"]
        assert [f["fill"]["id"] for f in filled] == sorted(f["id"] for f in fills), pushed
        assert filled[-1]["order"]["status"] == "filled"
