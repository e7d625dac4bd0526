"""The simulated market feed (the default source)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator, Sequence
from dataclasses import replace
from decimal import Decimal

from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.simulator import MarketSimulator
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.feeds.base import Emit, Feed
from tickstream.market.feeds.spec import FeedConfigError, FeedSpec

_MAX_LAG_NS = NS_PER_S  # behind by more than this (a busy machine): skip ahead
BACKFILL_RATE = 5.0  # trades a second over all symbols in the backfilled past
BACKFILL_SPEED = 0.25  # of the live volatility clock: hours of past stay plausible


class SimulatedFeed(Feed):
    kind = "simulated"
    source = "sim"

    def __init__(
        self,
        specs: Sequence[InstrumentSpec],
        *,
        seed: int = 0,
        rate: float = 50.0,
        speed: float = 20.0,
        stock_hours: str = "always",
        backfill_s: float = 0.0,
    ) -> None:
        self.specs = list(specs)
        self.backfill_s = backfill_s
        self.seed = seed or time.time_ns()
        self.rate = rate
        self.speed = speed
        self.stock_hours = stock_hours
        self.runs = 0

    @classmethod
    def from_spec(cls, spec: FeedSpec) -> SimulatedFeed:
        """`simulated [rate=] [seed=] [speed=] [symbols=A,B] [stock_hours=always|exchange]`,
        falling back on the SIM_* settings."""
        spec.allow("rate", "seed", "speed", "symbols", "stock_hours")
        defaults = spec.defaults
        wanted = set(spec.names("symbols") or defaults.get("symbols") or [])
        chosen = [i for i in spec.instruments if i.active]
        if wanted:
            chosen = [i for i in chosen if i.symbol in wanted]
            unknown = wanted - {i.symbol for i in chosen}
            if unknown:
                raise spec.error(f"unknown symbols {sorted(unknown)}")
        if not chosen:
            raise FeedConfigError(
                "the simulated market has no active instruments: "
                "run `python manage.py load_instruments`"
            )
        stock_hours = spec.text_of("stock_hours", str(defaults.get("stock_hours", "always")))
        if stock_hours not in {"always", "exchange"}:
            raise spec.error("stock_hours must be always or exchange")
        return cls(
            chosen,
            seed=int(spec.number("seed", float(defaults.get("seed", 0)))),
            rate=spec.number("rate", float(defaults.get("rate", 50.0))) or 50.0,
            speed=spec.number("speed", float(defaults.get("speed", 20.0))),
            stock_hours=stock_hours,
            backfill_s=float(defaults.get("backfill_s", 0.0)),
        )

    def symbols(self) -> list[str]:
        return [s.symbol for s in self.specs]

    def describe(self) -> str:
        return f"sim({len(self.specs)} symbols, {self.rate:g}/s, seed {self.seed})"

    def history(self, end_ns: int) -> Iterator[Tick]:
        """`backfill_s` of market before `end_ns`, at a few trades a second (enough for
        1-minute candles and warm indicators), ending where the live market then starts."""
        if self.backfill_s <= 0:
            return
        sim = MarketSimulator(
            self.specs,
            seed=self.seed ^ 0x5EED,
            rate=min(self.rate, BACKFILL_RATE),
            start_ns=end_ns - int(self.backfill_s * NS_PER_S),
            speed=self.speed * BACKFILL_SPEED,
            stock_hours=self.stock_hours,
        )
        last: dict[str, Decimal] = {}
        run = _run_id()
        while sim.now < end_ns:
            trade = sim.next_trade()
            if trade is None or trade.ts >= end_ns:
                continue
            last[trade.symbol] = trade.price
            yield Tick(
                trade.symbol,
                trade.price,
                trade.size,
                trade.ts,
                trade.ts,
                self.source,
                f"backfill-{run}-{trade.trade_id}",  # the live market numbers its own
            )
        self._resume_from(last)

    def _resume_from(self, last: dict[str, Decimal]) -> None:
        """Start the next run where this one left each price."""
        self.specs = [
            replace(s, start_price=last[s.symbol]) if s.symbol in last else s for s in self.specs
        ]

    async def run(self, emit: Emit) -> None:
        """Trade until cancelled. A restart (after a failure) continues from the last
        prices on a fresh random path, and numbers its trades with a new run id, so they
        never collide with the trades of an earlier run in the duplicate check."""
        self.runs += 1
        sim = MarketSimulator(
            self.specs,
            seed=self.seed + self.runs - 1,
            rate=self.rate,
            start_ns=time.time_ns(),
            speed=self.speed,
            stock_hours=self.stock_hours,
            id_prefix=f"sim-{_run_id()}-",
        )
        try:
            await self._trade(sim, emit)
        finally:
            self._resume_from(sim.last_traded)

    async def _trade(self, sim: MarketSimulator, emit: Emit) -> None:
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


def _run_id() -> str:
    """A short id, distinct for every run of a feed in this and any later process."""
    n = time.time_ns() // 1000
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    out = ""
    while n:
        n, r = divmod(n, 36)
        out = digits[r] + out
    return out
