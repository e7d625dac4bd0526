"""What every feed adapter is, and the supervisor that keeps one running."""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.health import FeedHealth, FeedState

if TYPE_CHECKING:
    from tickstream.market.core.analytics.intervals import Interval
    from tickstream.market.feeds.candles import Progress
    from tickstream.market.writer import CandleRow

log = logging.getLogger(__name__)

Emit = Callable[[Tick], object]


class FeedFailed(Exception):
    """A feed cannot work and retrying cannot help (refused credentials, an unknown
    symbol): it stops, and its health says why."""


class Feed(ABC):
    """A source of ticks. `run` emits ticks until the source ends or fails."""

    kind: str = "feed"
    source: str = "feed"
    # Live feeds are checked for staleness; replays carry historical times.
    live: bool = True
    # A feed that reads messages of its own counts them; others count each tick as one.
    counts_messages: bool = False
    # Days of past candles fetched from the venue for a symbol with none stored (0: the
    # feed has no candle history; see `candles`).
    backfill_days: float = 0.0
    _health: FeedHealth | None = None

    @property
    def health(self) -> FeedHealth:
        if self._health is None:
            self._health = FeedHealth(self.kind, self.source, self.symbols())
        return self._health

    def symbols(self) -> list[str]:
        """The instruments this feed prices."""
        return []

    @abstractmethod
    async def run(self, emit: Emit) -> None:
        """Emit ticks; return when the source is exhausted, raise when it fails."""

    def describe(self) -> str:
        return self.source

    def history(self, end_ns: int) -> Iterator[Tick]:
        """Ticks before `end_ns` to fill an empty store before `run` starts (none by default)."""
        return iter(())

    @property
    def serves_candles(self) -> bool:
        """Whether `candles` answers (the feed's venue keeps past candles)."""
        return type(self).candles is not Feed.candles

    async def candles(
        self,
        symbol: str,
        interval: Interval,
        since_ms: int,
        until_ms: int,
        progress: Progress | None = None,
    ) -> list[CandleRow]:
        """The venue's closed candles of an instrument this feed prices, `since_ms` to
        `until_ms` (feeds with `backfill_days` serve them)."""
        raise NotImplementedError(f"{self.describe()} has no candle history")


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Capped exponential backoff with full jitter (attempt counts from 1)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


async def supervise(feed: Feed, emit: Emit) -> None:
    """Run a feed, restarting it with backoff when it fails, until it ends, fails for good
    (`FeedFailed`) or is cancelled. Its health counts what it emits and how it fails."""
    health = feed.health

    def counted(tick: Tick) -> object:
        if not feed.counts_messages:
            health.message()
        problem = emit(tick)
        if problem is None:
            health.ticks += 1
        else:
            health.refused += 1
        return problem

    attempt = 0
    while True:
        try:
            await feed.run(counted)
        except asyncio.CancelledError:
            raise
        except FeedFailed as exc:
            health.state = FeedState.FAILED
            health.error("failed", str(exc))
            log.error("feed %s failed and is stopped: %s", feed.describe(), exc)
            return
        except Exception as exc:
            attempt += 1
            delay = backoff_delay(attempt)
            health.state = FeedState.RECONNECTING
            health.reconnects += 1
            health.error("crash", f"{type(exc).__name__}: {exc}")
            log.exception(
                "feed %s failed (attempt %d); restarting in %.1fs", feed.describe(), attempt, delay
            )
            await asyncio.sleep(delay)
            continue
        health.state = FeedState.FINISHED
        log.info("feed %s finished", feed.describe())
        return
