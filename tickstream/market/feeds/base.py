"""What every feed adapter is, and the supervisor that keeps one running."""

from __future__ import annotations

import asyncio
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator

from tickstream.market.core.ticks import Tick

log = logging.getLogger(__name__)

Emit = Callable[[Tick], object]


class Feed(ABC):
    """A source of ticks. `run` emits ticks until the source ends or fails."""

    source: str = "feed"
    # Live feeds are checked for staleness; replays carry historical times.
    live: bool = True

    @abstractmethod
    async def run(self, emit: Emit) -> None:
        """Emit ticks; return when the source is exhausted, raise when it fails."""

    def describe(self) -> str:
        return self.source

    def history(self, end_ns: int) -> Iterator[Tick]:
        """Ticks before `end_ns` to fill an empty store before `run` starts (none by default)."""
        return iter(())


def backoff_delay(attempt: int, *, base: float = 0.5, cap: float = 30.0) -> float:
    """Capped exponential backoff with full jitter (attempt counts from 1)."""
    return random.uniform(0, min(cap, base * 2 ** (attempt - 1)))


async def supervise(feed: Feed, emit: Emit, *, max_quiet_restarts: int = 0) -> None:
    """Run a feed, restarting it with backoff when it fails, until it ends or is cancelled."""
    attempt = 0
    while True:
        try:
            await feed.run(emit)
        except asyncio.CancelledError:
            raise
        except Exception:
            attempt += 1
            delay = backoff_delay(attempt)
            log.exception(
                "feed %s failed (attempt %d); restarting in %.1fs", feed.describe(), attempt, delay
            )
            await asyncio.sleep(delay)
            continue
        log.info("feed %s finished", feed.describe())
        return
