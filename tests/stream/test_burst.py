"""A burst: 10,000 trades of one symbol within one second, through the pipeline's batched
messages, the channel layer, the Hub and a websocket."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest

from tests.stream.conftest import Market, connect, frames, request
from tests.support import trades_problems
from tickstream.stream.core.views import MAX_TRADES_PER_FLUSH

pytestmark = pytest.mark.django_db(transaction=True)

BURSTS, EACH = 20, 500  # 10,000 trades: 500 every 50 ms, 0.1 ms apart in market time


async def test_a_burst_of_10000_trades_arrives_whole_or_with_gaps_naming_exactly_the_rest(
    market: Market,
) -> None:
    ws = await connect()
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["trades:AAPL"]})
    (snapshot,) = [m for m in got if m["type"] == "snapshot"]
    start = snapshot["seq"]
    for b in range(BURSTS):
        for i in range(EACH):
            n = b * EACH + i + 1  # the trade's number; its size says it
            market.trade("AAPL", str(Decimal(200) + Decimal(n % 97) / 100), str(n), step=0.0001)
        await asyncio.sleep(0.05)
    await market.settle()
    messages = got + await frames(ws)
    await ws.disconnect()

    total = BURSTS * EACH
    assert trades_problems(messages, "trades:AAPL") == []  # in order, gaps right after
    sent = {
        m["seq"]: m["data"] for m in messages if m["type"] == "update"
    }  # what arrived, by number
    left_out = [s for m in messages if m["type"] == "gap" for s in range(m["from"], m["to"] + 1)]
    # Every trade is there exactly once, or named in a gap: none lost silently, none twice.
    assert sorted([*sent, *left_out]) == list(range(start + 1, start + total + 1))
    for seq, trade in sent.items():
        n = seq - start
        assert (trade["size"], trade["price"]) == (
            str(n),
            str(Decimal(200) + Decimal(n % 97) / 100),
        )
    # The Hub sends at most MAX_TRADES_PER_FLUSH of a channel each flush (200 every 100 ms
    # by default: about 2,600 of the 10,000 here); it names the rest in gaps.
    assert len(sent) >= MAX_TRADES_PER_FLUSH and left_out
