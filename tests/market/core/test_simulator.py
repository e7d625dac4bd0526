"""The simulated market: deterministic per seed, on the price grid, plausible."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime
from decimal import Decimal

from tickstream.market.core.instruments import DEFAULT_UNIVERSE, InstrumentKind, InstrumentSpec
from tickstream.market.core.simulator import MarketSimulator, us_market_open
from tickstream.market.core.ticks import NS_PER_S, datetime_to_ns

START = datetime_to_ns(datetime(2026, 11, 18, 15, 0, tzinfo=UTC))  # a Wednesday, 10:00 NY


def _trades(seed: int, n: int, **kwargs: object) -> list[tuple[str, Decimal, Decimal, int]]:
    sim = MarketSimulator(DEFAULT_UNIVERSE, seed=seed, rate=200, start_ns=START, **kwargs)  # type: ignore[arg-type]
    out = []
    while len(out) < n:
        t = sim.next_trade()
        if t is not None:
            out.append((t.symbol, t.price, t.size, t.ts))
    return out


def test_same_seed_same_market_other_seed_other_market() -> None:
    assert _trades(7, 2000) == _trades(7, 2000)
    assert _trades(7, 2000) != _trades(8, 2000)


def test_prices_on_tick_grid_and_sizes_on_quantity_step() -> None:
    specs = {s.symbol: s for s in DEFAULT_UNIVERSE}
    trades = _trades(1, 5000)
    assert {sym for sym, *_ in trades} == set(specs)
    for sym, price, size, _ in trades:
        spec = specs[sym]
        assert price > 0 and price % spec.tick_size == 0
        assert size > 0 and size % spec.quantity_step == 0


def test_times_increase_at_the_configured_rate() -> None:
    trades = _trades(3, 4000)
    stamps = [t for *_, t in trades]
    assert stamps == sorted(stamps)
    rate = (len(stamps) - 1) / ((stamps[-1] - stamps[0]) / NS_PER_S)
    assert 180 < rate < 220  # Poisson arrivals at 200/s


def test_realised_volatility_matches_the_instrument() -> None:
    spec = InstrumentSpec(
        "V",
        "Vol",
        InstrumentKind.CRYPTO,
        tick_size=Decimal("0.0001"),
        start_price=Decimal("1000"),
        volatility=0.8,
    )
    sim = MarketSimulator([spec], seed=11, rate=10, start_ns=START, speed=1000)
    prices = [float(sim.next_trade().price) for _ in range(20_000)]  # type: ignore[union-attr]
    returns = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
    seconds = 20_000 / 10 * 1000
    annual = statistics.pstdev(returns) * math.sqrt(len(returns) * 365 * 86_400 / seconds)
    assert 0.7 < annual < 0.95  # 0.8 plus the rare jumps


def test_exchange_hours_keep_stocks_quiet_at_night() -> None:
    night = datetime_to_ns(datetime(2026, 11, 18, 3, 0, tzinfo=UTC))  # 22:00 in New York
    assert us_market_open(START) and not us_market_open(night)
    saturday = datetime_to_ns(datetime(2026, 11, 21, 16, 0, tzinfo=UTC))
    assert not us_market_open(saturday)
    sim = MarketSimulator(
        DEFAULT_UNIVERSE, seed=5, rate=100, start_ns=night, stock_hours="exchange"
    )
    kinds = set()
    for _ in range(2000):
        t = sim.next_trade()
        if t is not None:
            kinds.add(next(s.kind for s in DEFAULT_UNIVERSE if s.symbol == t.symbol))
    assert kinds == {InstrumentKind.CRYPTO, InstrumentKind.FX}  # they trade around the clock


def test_default_universe_is_large_enough_and_valid() -> None:
    stocks = [s for s in DEFAULT_UNIVERSE if s.kind is InstrumentKind.STOCK]
    crypto = [s for s in DEFAULT_UNIVERSE if s.kind is InstrumentKind.CRYPTO]
    assert len(stocks) >= 20 and len(crypto) >= 10
    assert len({s.symbol for s in DEFAULT_UNIVERSE}) == len(DEFAULT_UNIVERSE)
    assert all(s.start_price % s.tick_size == 0 for s in DEFAULT_UNIVERSE)
