"""The simulated feed around the market model: restarts continue the market."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine, TickUpdate
from tickstream.market.core.instruments import DEFAULT_UNIVERSE
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.simulated import SimulatedFeed


async def test_a_restarted_simulated_feed_continues_and_is_never_taken_for_duplicates() -> None:
    """After a feed failure the supervisor runs the same feed again: its trades must get
    new ids (they once all came back as `duplicate`, freezing the market) and its prices
    must carry on from where they were."""
    specs = [s for s in DEFAULT_UNIVERSE if s.symbol in {"BTC-USD", "ETH-USD"}]
    feed = SimulatedFeed(specs, seed=3, rate=5000)
    engine = MarketEngine(specs, STANDARD_INTERVALS, [])
    runs: list[list[Tick]] = [[], []]

    class Broken(Exception):
        pass

    for run in runs:

        def emit(tick: Tick, run: list[Tick] = run) -> None:
            assert isinstance(engine.process(tick), TickUpdate), tick
            run.append(tick)
            if len(run) == 200:
                raise Broken  # the feed fails, as any feed exception would make it

        with pytest.raises(Broken):
            await feed.run(emit)
    first, second = runs
    assert not {t.trade_id for t in first} & {t.trade_id for t in second}
    assert engine.validator.rejected == {}
    for symbol in ("BTC-USD", "ETH-USD"):
        last = [t.price for t in first if t.symbol == symbol][-1]
        resumed = [t.price for t in second if t.symbol == symbol][0]
        assert abs(resumed / last - 1) < Decimal("0.02")  # a step from there, not a jump back
