"""A derived value (a live portfolio) whose symbol's market data is not available when it
is built (no pipeline answered in time) follows that symbol once it is: the holding is
priced without the client subscribing again. Before, it stayed unpriced for good."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from tests.stream.conftest import Conn, until
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.pipeline import Pipeline, Publisher
from tickstream.portfolio.core.valuation import Basis, Position, Valuation
from tickstream.stream import hub as hub_module
from tickstream.stream.core.protocol import ChannelRef
from tickstream.stream.hub import Hub
from tickstream.stream.layers import LocalChannelLayer


async def test_a_symbol_without_market_data_at_first_is_followed_once_it_has(
    monkeypatch: Any,
) -> None:
    monkeypatch.setattr(hub_module, "FOLLOW_RETRY_S", (0.05, 0.05, 0.05), raising=False)
    layer = LocalChannelLayer()
    specs = [InstrumentSpec(s, s, InstrumentKind.STOCK) for s in ("AAPL", "MSFT")]
    pipeline = Pipeline(
        MarketEngine(specs, STANDARD_INTERVALS, [], max_delay_s=None),
        publisher=Publisher(layer.group_send),
    )
    publishing = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    clock = 1_795_000_000 * NS_PER_S
    for symbol, price in (("AAPL", "200"), ("MSFT", "400")):
        clock += NS_PER_S
        pipeline.ingest(Tick(symbol, Decimal(price), Decimal(1), clock, clock, "t"), live=False)
    refused = {"MSFT": 2}  # its first two snapshot requests go unanswered

    async def snapshot(symbol: str) -> dict[str, Any]:
        if refused.get(symbol):
            refused[symbol] -= 1
            raise TimeoutError("no pipeline answered")
        return pipeline.snapshot(symbol)

    hub = Hub(layer, snapshot, flush_ms=20)
    await hub.start()
    basis = Basis(
        (Position("AAPL", Decimal(2), Decimal(300)), Position("MSFT", Decimal(1), Decimal(350)))
    )

    async def derive() -> Valuation:
        return Valuation(basis, header={"id": 1})

    conn = Conn()
    ref = ChannelRef("portfolio:1", "portfolio", key="1", public=False)
    snapshot_now = await hub.subscribe(conn, ref, derive=derive)
    holdings = {h["symbol"]: h for h in snapshot_now[0]["data"]["holdings"]}
    assert holdings["MSFT"]["price"] is None  # not available: unpriced for now
    assert holdings["AAPL"]["price"] == "200.00"

    def priced() -> bool:
        whole = [m["data"] for m in conn.messages if m.get("type") == "update"]
        return any(d.get("prices", {}).get("MSFT") for d in whole)

    await until(priced, 5.0)
    assert refused["MSFT"] == 0
    last = [m["data"] for m in conn.messages if m.get("type") == "update"][-1]
    assert last["totals"]["market_value"] == "800.00"  # 2 x 200 + 1 x 400
    await hub.stop()
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await publishing
