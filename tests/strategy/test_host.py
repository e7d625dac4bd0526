"""Hosted strategies: the server runs one for its owner on the pipeline's process (the
paper client over an in-process socket), stops it when asked, cancels its open orders,
stores the run; a strategy that raises is stopped with its reason and the server goes on."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.stream.conftest import Market, until
from tests.stream.conftest import market as market  # the live market, embedded
from tests.trading.conftest import funded
from tests.trading.conftest import venue as venue  # the matching hook on the test's pipeline
from tickstream.strategy.host import StrategyHost
from tickstream.strategy.models import HostedStrategy, StrategyRun
from tickstream.trading.hook import MatchingHook
from tickstream.trading.models import Order

pytestmark = pytest.mark.django_db(transaction=True)

BUYER = '''
"""Buys at the first trade: one limit through the market (it fills), one far below (it
rests); raises at trade `fail_at` when told to."""

from decimal import Decimal

from tickstream.strategy.core.api import Strategy


class Buyer(Strategy):
    def __init__(self, symbol, fail_at=0):
        self.symbol, self.fail_at, self.seen = symbol, fail_at, 0

    def on_trade(self, ctx, tick):
        self.seen += 1
        if self.seen == 1:
            ctx.buy(self.symbol, Decimal(2), price=tick.price + 1)
            ctx.buy(self.symbol, Decimal(1), price=tick.price - 50)
        if self.seen == self.fail_at:
            raise RuntimeError("boom")
'''


@pytest.fixture
def strategies(tmp_path: Path, settings: Any) -> None:
    (tmp_path / "buyer.py").write_text(BUYER)
    settings.STRATEGY_DIR = str(tmp_path)
    settings.STREAM_FLUSH_MS = 0


async def _hosted(fail_at: int) -> tuple[Any, HostedStrategy]:
    def make() -> tuple[Any, HostedStrategy]:
        user, _, _ = funded("10000")
        hosted = HostedStrategy.objects.create(
            owner=user, name="b", source="buyer", symbol="AAPL", interval="1m",
            params={"fail_at": str(fail_at)}, wanted=True,
        )  # fmt: skip
        return user, hosted

    return await database_sync_to_async(make)()


async def _orders(user: Any) -> dict[int, str]:
    return await database_sync_to_async(
        lambda: {int(o.price): o.status for o in Order.objects.filter(account__owner=user)}
    )()


async def test_a_hosted_strategy_trades_stops_when_asked_and_its_run_is_stored(
    market: Market, venue: MatchingHook, strategies: None
) -> None:
    user, hosted = await _hosted(fail_at=0)
    host = StrategyHost()
    await host.reconcile()
    running = host.running[hosted.pk]
    await asyncio.wait_for(running.paper.ready.wait(), 10)
    market.trade("AAPL", "200")
    await until(lambda: len(running.paper.open_orders()) == 2 and not running.paper._asked, 10)
    market.trade("AAPL", "200.5", size="5")  # through the first limit
    await until(lambda: len(running.paper.run_.fills) == 1, 10)
    await database_sync_to_async(HostedStrategy.objects.filter(pk=hosted.pk).update)(wanted=False)
    await host.reconcile()
    assert hosted.pk not in host.running
    assert await _orders(user) == {201: "filled", 150: "cancelled"}  # stopping cancels
    hosted = await database_sync_to_async(HostedStrategy.objects.get)(pk=hosted.pk)
    assert hosted.state == "stopped" and hosted.error == ""
    run = await database_sync_to_async(StrategyRun.objects.get)(pk=hosted.run_id)
    assert run.mode == "hosted" and run.status == "done" and run.trades == 2
    # A limit through the market when it arrived takes, with slippage: 200.5 + 5 bps, up.
    assert [(f["price"], f["liquidity"]) for f in run.fills] == [("200.61", "taker")]
    assert len(run.checksum) == 64
    await host.stop()


async def test_a_strategy_that_raises_is_stopped_its_orders_cancelled_and_the_reason_kept(
    market: Market, venue: MatchingHook, strategies: None
) -> None:
    user, hosted = await _hosted(fail_at=2)
    host = StrategyHost()
    await host.reconcile()
    running = host.running[hosted.pk]
    await asyncio.wait_for(running.paper.ready.wait(), 10)
    market.trade("AAPL", "300")
    await until(lambda: len(running.paper.open_orders()) == 2 and not running.paper._asked, 10)
    market.trade("AAPL", "301")  # the strategy raises here
    await asyncio.wait_for(asyncio.shield(running.task), 10)
    await host.reconcile()  # it sees the run ended
    hosted = await database_sync_to_async(HostedStrategy.objects.get)(pk=hosted.pk)
    assert hosted.state == "failed" and hosted.error == "RuntimeError: boom"
    assert not hosted.wanted  # not restarted
    assert set((await _orders(user)).values()) == {"cancelled"}
    run = await database_sync_to_async(StrategyRun.objects.get)(pk=hosted.run_id)
    assert run.status == "failed" and run.error == "RuntimeError: boom"
    market.trade("AAPL", "302")  # the server goes on
    await market.settle()
    await host.stop()


async def test_a_source_the_server_does_not_offer_is_refused_with_its_reason(
    market: Market, venue: MatchingHook, strategies: None
) -> None:
    _, hosted = await _hosted(fail_at=0)
    await database_sync_to_async(HostedStrategy.objects.filter(pk=hosted.pk).update)(
        source="nothing"
    )
    host = StrategyHost()
    await host.reconcile()
    assert host.running == {}
    hosted = await database_sync_to_async(HostedStrategy.objects.get)(pk=hosted.pk)
    assert hosted.state == "failed" and "offers no strategy 'nothing'" in hosted.error
