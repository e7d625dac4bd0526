"""Replays a price file (bars or trades) at a speed factor."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

from tickstream.market.core.formats import PriceFile, bar_path, read_price_file
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.feeds.base import Emit, Feed
from tickstream.market.feeds.spec import FeedSpec


def file_trades(prices: PriceFile) -> Iterator[tuple[int, Decimal, Decimal, str | None]]:
    """The trades of a price file; bars become their four-trade path."""
    if prices.kind == "trades":
        for t in prices.trades:
            yield t.ts, t.price, t.size, t.trade_id
        return
    duration = prices.bar_duration()
    for bar in prices.bars:
        for ts, price, size in bar_path(bar, duration):
            yield ts, price, size, None


class ReplayFeed(Feed):
    """Plays a file's trades with their original times; `speed=None` plays as fast as the
    pipeline takes them."""

    kind = "replay"
    source = "replay"
    live = False

    def __init__(self, path: str | Path, symbol: str, *, speed: float | None = 1.0) -> None:
        if speed is not None and speed <= 0:
            raise ValueError("speed must be positive (or None for as fast as possible)")
        self.path = Path(path)
        self.symbol = symbol
        self.speed = speed

    @classmethod
    def from_spec(cls, spec: FeedSpec) -> ReplayFeed:
        """`replay symbol=SPY file=data/spy.csv [speed=60|max]`."""
        spec.allow("symbol", "file", "speed")
        if "symbol" not in spec.options or "file" not in spec.options:
            raise spec.error("replay needs symbol=... and file=...")
        path = Path(spec.options["file"])
        if not path.is_file():
            raise spec.error(f"no file {path}")
        speed = None if spec.text_of("speed") == "max" else spec.number("speed", 1.0)
        if speed == 0:
            raise spec.error("speed must be positive or max")
        return cls(path, spec.options["symbol"].upper(), speed=speed)

    def symbols(self) -> list[str]:
        return [self.symbol]

    def describe(self) -> str:
        pace = "max" if self.speed is None else f"{self.speed:g}x"
        return f"replay({self.symbol} from {self.path.name} at {pace})"

    async def run(self, emit: Emit) -> None:
        prices = await asyncio.to_thread(read_price_file, self.path)
        wall_start = time.monotonic_ns()
        first: int | None = None
        for count, (ts, price, size, trade_id) in enumerate(file_trades(prices), 1):
            if first is None:
                first = ts
            if self.speed is not None:
                due = wall_start + int((ts - first) / self.speed)
                wait = due - time.monotonic_ns()
                if wait > 1_000_000:
                    await asyncio.sleep(wait / NS_PER_S)
            elif count % 1000 == 0:
                await asyncio.sleep(0)  # let the rest of the process breathe
            emit(Tick(self.symbol, price, size, ts, time.time_ns(), self.source, trade_id))
