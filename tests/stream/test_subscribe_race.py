"""Subscribing to a symbol the Hub does not carry yet is race-free: however many clients
subscribe at once while trades flow, each one's `trades:` stream, from its snapshot on, is
consecutive or names its gaps (before, a second subscriber replaced the first one's view
while both awaited the instrument check, and trades were lost without a gap notice)."""

from __future__ import annotations

import asyncio
import random
from decimal import Decimal
from typing import Any

from tests.stream.conftest import Conn, until
from tests.support import trades_problems
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.pipeline import Pipeline, Publisher
from tickstream.stream.core.protocol import ChannelKind, ChannelRef
from tickstream.stream.hub import Hub
from tickstream.stream.layers import LocalChannelLayer

TRADES = 1500


async def test_many_clients_subscribing_at_once_while_trades_flow_miss_nothing_silently() -> None:
    layer = LocalChannelLayer()
    spec = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK)
    pipeline = Pipeline(
        MarketEngine([spec], STANDARD_INTERVALS, [], max_delay_s=None),
        publisher=Publisher(layer.group_send),
    )
    publishing = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    rng = random.Random(5)

    async def exists(symbol: str) -> bool:
        await asyncio.sleep(rng.random() * 0.005)  # a database round trip
        return True

    async def snapshot(symbol: str) -> dict[str, Any]:
        await asyncio.sleep(rng.random() * 0.005)  # a request to the feed process
        return pipeline.snapshot(symbol)

    hub = Hub(layer, snapshot, flush_ms=20, symbol_exists=exists)
    await hub.start()

    async def trade() -> None:
        clock = 1_795_000_000 * NS_PER_S
        for _ in range(TRADES):
            clock += NS_PER_S // 100
            price = Decimal(100) + Decimal(rng.randrange(100)) / 100
            pipeline.ingest(Tick("AAPL", price, Decimal(1), clock, clock, "t"), live=False)
            await asyncio.sleep(0)

    trading = asyncio.create_task(trade())
    ref = ChannelRef("trades:AAPL", ChannelKind.TRADES, "AAPL")
    conns = [Conn() for _ in range(60)]

    async def subscribe(conn: Conn) -> None:
        await asyncio.sleep(rng.random() * 0.02)
        for m in await hub.subscribe(conn, ref):
            conn.messages.append(m)

    await asyncio.gather(*(subscribe(c) for c in conns))
    await trading
    pipeline.flush()  # the last trades, if the flush budget held them (as the runtime stops)
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await publishing  # everything is on the layer now
    await until(lambda: layer.channels[hub._channel].empty())
    flushes = hub.flushes
    await until(lambda: hub.flushes > flushes)  # ...and sent
    await hub.stop()

    assert len(hub.views) == 1  # one view of the symbol, whatever the interleaving
    total = pipeline.engine.seq["AAPL"]
    assert total == TRADES
    for conn in conns:
        assert conn.messages[0]["type"] == "snapshot"
        assert trades_problems(conn.messages, "trades:AAPL") == []
        updates = [m for m in conn.messages if m["type"] in ("update", "gap")]
        last = updates[-1]
        assert last.get("seq", last.get("to")) == total  # ...up to the last trade
