"""The simulated market feed (the default source)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence

from tickstream.market.feeds.base import Emit, Feed
from tickstream.market.feeds.simulation import MarketSimulator
from tickstream.market.instruments import InstrumentSpec
from tickstream.market.ticks import NS_PER_S, Tick

_MAX_LAG_NS = NS_PER_S  # behind by more than this (a busy machine): skip ahead


class SimulatedFeed(Feed):
    source = "sim"

    def __init__(
        self,
        specs: Sequence[InstrumentSpec],
        *,
        seed: int = 0,
        rate: float = 50.0,
        speed: float = 20.0,
        stock_hours: str = "always",
    ) -> None:
        self.specs = list(specs)
        self.seed = seed or time.time_ns()
        self.rate = rate
        self.speed = speed
        self.stock_hours = stock_hours

    def describe(self) -> str:
        return f"sim({len(self.specs)} symbols, {self.rate:g}/s, seed {self.seed})"

    async def run(self, emit: Emit) -> None:
        sim = MarketSimulator(
            self.specs,
            seed=self.seed,
            rate=self.rate,
            start_ns=time.time_ns(),
            speed=self.speed,
            stock_hours=self.stock_hours,
        )
        while True:
            trade = sim.next_trade()
            now = time.time_ns()
            ahead = sim.now - now
            if ahead > 2_000_000:
                await asyncio.sleep(ahead / NS_PER_S)
            elif ahead < -_MAX_LAG_NS:
                sim.now = now
            if trade is None:
                continue
            emit(
                Tick(
                    trade.symbol,
                    trade.price,
                    trade.size,
                    trade.ts,
                    time.time_ns(),
                    self.source,
                    trade.trade_id,
                )
            )
