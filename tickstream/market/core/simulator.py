"""The simulated market's price model (pure, deterministic for a seed).

Each instrument follows a geometric Brownian motion with its own volatility plus rare
jumps. Trades arrive as a Poisson process at the configured rate over all tradable
instruments. Time is virtual: the path depends on the seed and the rate, not on the wall
clock, so a seed replays the same market.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, time
from decimal import Decimal
from zoneinfo import ZoneInfo

from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S

_NEW_YORK = ZoneInfo("America/New_York")
_OPEN, _CLOSE = time(9, 30), time(16, 0)
# Seconds of trading in a year: volatility is quoted per year of trading time.
_SECONDS_PER_YEAR = {
    InstrumentKind.STOCK: 252 * 6.5 * 3600,
    InstrumentKind.CRYPTO: 365 * 24 * 3600,
    InstrumentKind.FX: 260 * 24 * 3600,  # around the clock on weekdays
}
JUMP_PROBABILITY = 0.001  # per trade
JUMP_SIZE = 0.006  # typical jump as a fraction of price


def us_market_open(ts: int) -> bool:
    """True during regular NYSE/Nasdaq hours (Mon-Fri 09:30-16:00 New York; no holidays)."""
    local = datetime.fromtimestamp(ts / NS_PER_S, tz=UTC).astimezone(_NEW_YORK)
    return local.weekday() < 5 and _OPEN <= local.time() < _CLOSE


@dataclass(frozen=True, slots=True)
class SimulatedTrade:
    symbol: str
    price: Decimal
    size: Decimal
    ts: int
    trade_id: str


class MarketSimulator:
    """Generates trades for a set of instruments on a virtual clock."""

    def __init__(
        self,
        specs: Sequence[InstrumentSpec],
        *,
        seed: int,
        rate: float,
        start_ns: int,
        speed: float = 1.0,
        stock_hours: str = "always",
        id_prefix: str = "sim-",
    ) -> None:
        if rate <= 0:
            raise ValueError("rate must be positive")
        if stock_hours not in {"always", "exchange"}:
            raise ValueError("stock_hours must be 'always' or 'exchange'")
        if not specs:
            raise ValueError("the simulated market needs at least one instrument")
        self.specs = list(specs)
        self.rng = random.Random(seed)
        self.rate = rate
        self.speed = speed
        self.stock_hours = stock_hours
        self.now = start_ns
        self.count = 0
        self.id_prefix = id_prefix  # trade ids are `<id_prefix><count>`
        self.prices = {s.symbol: float(s.start_price) for s in self.specs}
        self.last_ts = {s.symbol: start_ns for s in self.specs}
        self.last_traded: dict[str, Decimal] = {}  # the last price each symbol traded at

    def tradable(self, ts: int) -> list[InstrumentSpec]:
        """Instruments that trade at the time `ts`."""
        if self.stock_hours == "always" or us_market_open(ts):
            return self.specs
        return [s for s in self.specs if s.kind is not InstrumentKind.STOCK]

    def next_trade(self) -> SimulatedTrade | None:
        """Advance the clock to the next trade and return it (None if nothing trades now)."""
        rng = self.rng
        self.now += max(1, int(rng.expovariate(self.rate) * NS_PER_S))
        candidates = self.tradable(self.now)
        if not candidates:
            return None
        spec = candidates[rng.randrange(len(candidates))]
        price = self._move(spec)
        self.count += 1
        traded = spec.round_price(Decimal(repr(price)))
        self.last_traded[spec.symbol] = traded
        return SimulatedTrade(
            spec.symbol,
            traded,
            self._size(spec, price),
            self.now,
            f"{self.id_prefix}{self.count}",
        )

    def _move(self, spec: InstrumentSpec) -> float:
        rng = self.rng
        elapsed = (self.now - self.last_ts[spec.symbol]) / NS_PER_S
        self.last_ts[spec.symbol] = self.now
        dt = elapsed * self.speed / _SECONDS_PER_YEAR[spec.kind]
        sigma = spec.volatility
        log_return = -0.5 * sigma * sigma * dt + sigma * math.sqrt(dt) * rng.gauss(0.0, 1.0)
        if rng.random() < JUMP_PROBABILITY:
            log_return += rng.choice((-1.0, 1.0)) * JUMP_SIZE * rng.expovariate(1.0)
        price = self.prices[spec.symbol] * math.exp(log_return)
        floor = float(spec.tick_size)
        self.prices[spec.symbol] = max(price, floor)
        return self.prices[spec.symbol]

    def _size(self, spec: InstrumentSpec, price: float) -> Decimal:
        rng = self.rng
        if spec.kind is InstrumentKind.STOCK:
            if rng.random() < 0.55:  # round lots dominate the tape
                return Decimal(100 * rng.choice((1, 1, 1, 2, 2, 3, 5, 10)))
            return spec.round_quantity(Decimal(max(1, int(rng.lognormvariate(3.0, 1.2)))))
        notional = rng.lognormvariate(6.0, 1.6)  # dollars; median about $400
        return spec.round_quantity(Decimal(repr(notional / price)))
