"""What every feed adapter is, and the supervisor that keeps one running."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.feeds.health import FeedHealth, FeedState

if TYPE_CHECKING:
    from tickstream.market.core.analytics.intervals import Interval
    from tickstream.market.feeds.candles import Progress
    from tickstream.market.feeds.spec import FeedSpec
    from tickstream.market.writer import CandleRow

log = logging.getLogger(__name__)

Emit = Callable[[Tick], object]


class FeedFailed(Exception):
    """A feed cannot work and retrying cannot help (refused credentials, an unknown
    symbol): it stops, and its health says why."""


class Disconnected(Exception):
    """A session ended in a way a new connection can mend (the peer closed, an error the
    venue says to retry): the supervisor reconnects."""


class Feed(ABC):
    """A source of ticks. `run` is one session: it emits ticks until the source ends
    (returns) or the connection fails (raises); `supervise` owns everything around it."""

    kind: str = "feed"
    source: str = "feed"
    # Live feeds are checked for staleness; replays carry historical times.
    live: bool = True
    # A feed that reads messages of its own counts them; others count each tick as one.
    counts_messages: bool = False
    # Days of past candles fetched from the venue for a symbol with none stored (0: the
    # feed has no candle history; see `candles`).
    backfill_days: float = 0.0
    # A session that has received nothing (not even a heartbeat) for this long is closed
    # and a new one started (0: never).
    silence_s: float = 0.0
    # Reconnects wait a capped, jittered exponential backoff: base * 2^(n-1), at most cap.
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 30.0
    _health: FeedHealth | None = None

    @classmethod
    def from_spec(cls, spec: FeedSpec) -> Feed:
        """The feed a FEEDS entry of this kind describes; a kind FEEDS can name registers
        in `registry.FEED_KINDS` and defines this."""
        raise NotImplementedError(f"{cls.__name__} cannot be named in FEEDS")

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
        """One session: emit ticks; return when the source is exhausted, raise when it
        fails (`FeedFailed` when no retry can help)."""

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


class _Silent(Exception):
    pass


async def _session(feed: Feed, emit: Emit) -> None:
    """One `run`, closed when it stays silent for the feed's `silence_s`. O(1) a check."""
    if feed.silence_s <= 0:
        await feed.run(emit)
        return
    health = feed.health
    every = min(1.0, feed.silence_s / 4)
    task = asyncio.create_task(feed.run(emit), name=f"feed {feed.describe()}")
    started = time.time_ns()
    try:
        while True:
            done, _ = await asyncio.wait([task], timeout=every)
            if done:
                task.result()
                return
            last = max(started, health.last_message_ns or 0)
            if time.time_ns() - last > feed.silence_s * NS_PER_S:
                raise _Silent(f"no message for {feed.silence_s:g}s")
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)


async def supervise(feed: Feed, emit: Emit) -> None:
    """Run a feed session after session until it ends, fails for good (`FeedFailed`) or is
    cancelled: a failed or silent session is followed by a new one after a backoff, which
    starts over once a session has received something. Its health counts what it emits and
    how it fails."""
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
        messages = health.messages
        try:
            await _session(feed, counted)
        except asyncio.CancelledError:
            raise
        except FeedFailed as exc:
            health.state = FeedState.FAILED
            health.error("failed", str(exc))
            log.error("feed %s failed and is stopped: %s", feed.describe(), exc)
            return
        except Exception as exc:
            if health.messages > messages:  # that session worked for a while
                attempt = 0
            attempt += 1
            delay = backoff_delay(attempt, base=feed.backoff_base_s, cap=feed.backoff_cap_s)
            health.state = FeedState.RECONNECTING
            health.reconnects += 1
            crashed = not isinstance(exc, _Silent | Disconnected | OSError | TimeoutError)
            if isinstance(exc, _Silent):
                health.error("silent", str(exc))
            elif not crashed:
                health.error("disconnected", f"{type(exc).__name__}: {exc}")
            else:  # a fault of ours: logged with its traceback
                health.error("crash", f"{type(exc).__name__}: {exc}")
            log.warning(
                "feed %s: %s (attempt %d); reconnecting in %.1fs",
                feed.describe(),
                exc,
                attempt,
                delay,
                exc_info=crashed,
            )
            await asyncio.sleep(delay)
            continue
        health.state = FeedState.FINISHED
        log.info("feed %s finished", feed.describe())
        return
