"""What the benchmarks share: the fan-out's symbols and its simulated feed, and Django set
up in the benchmark's own process."""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal

from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.simulator import MarketSimulator
from tickstream.market.core.ticks import NS_PER_S


def django_in_process(**settings: str) -> None:
    """Set up Django in this process on a fresh, empty var directory (its SQLite database),
    with `settings` as environment variables."""
    os.environ.update(
        TICKSTREAM_DEVELOPMENT="true",
        DJANGO_SETTINGS_MODULE="tickstream.settings",
        TICKSTREAM_VAR_DIR=tempfile.mkdtemp(),
        LOG_LEVEL="WARNING",
        **settings,
    )
    import django

    django.setup()


def bench_symbols(count: int) -> list[InstrumentSpec]:
    return [
        InstrumentSpec(
            f"B{i:03d}",
            f"Bench {i}",
            InstrumentKind.CRYPTO,
            tick_size=Decimal("0.01"),
            quantity_step=Decimal("0.001"),
            start_price=Decimal(50 + i),
            volatility=0.5,
        )
        for i in range(count)
    ]


async def run_feed(
    count: int, rate: float, emit: Callable[[str, dict[str, object]], None], seed: int = 7
) -> None:
    """The simulated market at `rate` trades/s, in real time; emit(symbol, trade)."""
    sim = MarketSimulator(bench_symbols(count), seed=seed, rate=rate, start_ns=time.time_ns())
    while True:
        trade = sim.next_trade()
        ahead = sim.now - time.time_ns()
        if ahead > 2_000_000:
            await asyncio.sleep(ahead / NS_PER_S)
        if trade is None:
            continue
        emit(
            trade.symbol,
            {
                "symbol": trade.symbol,
                "price": str(trade.price),
                "size": str(trade.size),
                "ts_event": trade.ts,
                "trade_id": trade.trade_id,
            },
        )
