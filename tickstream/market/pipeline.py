"""The live pipeline: validate -> update market state -> publish -> persist.

`Pipeline.ingest` runs on the event loop for every tick from every feed. It does the pure
work at once and hands the rest off without waiting: publishing goes through a bounded
queue drained by one task, persistence through the batched writer.

Publishing is per symbol, not per tick: the trades a symbol takes while the event loop is
busy (a venue's frame of many trades, a burst) go out in one broker message with the
state once, as it is after the last of them (`batch_message`). The message is built when
the loop next turns (`call_soon`), so one tick alone is sent at once and a burst costs one
quote, six candles and one analysis, not one per trade.

When the event loop runs out of time, the flushes are paced (`FlushPace`): building
messages may then take only a share of the loop's time, a budget spent by each message,
and the next flush waits until the budget is back, gathering several trades of each
symbol into one message instead of one each. The share follows how busy the loop's thread
is (its CPU time over the wall time, every `PACE_WINDOW_S`): all of it while the loop has
time to spare, so a quiet or moderate market is sent at once; less and less, down to
`MIN_FLUSH_SHARE`, while the loop is saturated. So the rate the pipeline sustains does not
fall with how the feed delivers its ticks, and the latency does not rise until the loop
is full. Each message still carries every trade and the exact state after its last,
numbered as before.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from tickstream.market.broker import market_group
from tickstream.market.core.analytics.state import ClosedCandle
from tickstream.market.core.engine import MarketEngine, TickUpdate
from tickstream.market.core.messages import batch_message, price_places, symbol_snapshot
from tickstream.market.core.ticks import Tick
from tickstream.market.core.validation import Rejection, RejectReason, rejection
from tickstream.market.hooks import TickHook
from tickstream.market.writer import BatchWriter
from tickstream.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)

SendGroup = Callable[[str, dict[str, Any]], Awaitable[None]]

MAX_BATCH_TRADES = 256  # a symbol's message goes out once it holds this many trades
SEND_AT_ONCE = 256  # queued messages the publisher sends side by side (in order per group)
PACE_WINDOW_S = 0.02  # how often the loop's busy share is read
BUSY_LOOP = 0.9  # above this busy share the messages' share of the loop is cut
SPARE_LOOP = 0.75  # below this it is given back
MIN_FLUSH_SHARE = 0.15  # the least share of the loop building messages is left
FLUSH_BURST_S = 0.002  # the budget a quiet spell saves for the flushes that follow
MAX_FLUSH_GAP_S = 0.025  # the longest a trade waits for its message under load


class FlushPace:
    """When the next flush of a pipeline may run: a budget of seconds of building that
    accrues at `share` of the wall time (up to FLUSH_BURST_S) and that each message spends;
    `share` is cut while the loop's thread is saturated and given back when it is not.
    A share of 1 never makes a flush wait (the budget accrues as fast as time passes)."""

    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        cpu: Callable[[], float] = time.thread_time,
    ) -> None:
        self._cpu = cpu
        self.share = 1.0
        self.busy = 0.0  # the loop thread's busy share over the last window
        self._budget = FLUSH_BURST_S
        self._at = self._window_at = clock()
        self._window_cpu = cpu()

    def wait(self, now: float) -> float:
        """Seconds the flush due at `now` (the loop's clock) waits: 0 within the budget."""
        if now - self._window_at >= PACE_WINDOW_S:
            self._observe(now)
        budget = self._budget_at(now)
        return 0.0 if budget >= 0 else min(MAX_FLUSH_GAP_S, -budget / self.share)

    def spend(self, started: float, ended: float) -> None:
        """A message took `started`..`ended` to build and queue. (The budget never falls
        below what MAX_FLUSH_GAP_S brings back: a message that took long, a pause of the
        collector, delays the next flush by at most that.)"""
        budget = self._budget_at(ended) - (ended - started)
        self._budget = max(-MAX_FLUSH_GAP_S * self.share, budget)
        self._at = ended

    def _budget_at(self, now: float) -> float:
        return min(FLUSH_BURST_S, self._budget + (now - self._at) * self.share)

    def _observe(self, now: float) -> None:
        cpu = self._cpu()
        self.busy = (cpu - self._window_cpu) / (now - self._window_at)
        self._window_at, self._window_cpu = now, cpu
        self._budget, self._at = self._budget_at(now), now  # (accrued at the old share)
        if self.busy > BUSY_LOOP:
            self.share = max(MIN_FLUSH_SHARE, self.share * 0.7)
        elif self.busy < SPARE_LOOP:
            self.share = min(1.0, self.share * 1.2)


@dataclass(slots=True)
class _Pending:
    """The accepted ticks of one symbol not yet in a broker message."""

    first: int
    last: TickUpdate
    trades: list[Tick]
    closed: list[tuple[int, ClosedCandle]]


class Publisher:
    """Sends broker messages in order through a bounded queue; overflow is counted."""

    def __init__(
        self, send_group: SendGroup, *, capacity: int = 50_000, overlap: bool = True
    ) -> None:
        self._send = send_group
        # Whether sends to different groups go side by side: a remote broker's round trips
        # overlap. A layer in the process never waits, and a task per group would only
        # cost time (about as much as building the messages).
        self.overlap = overlap
        self._queue: asyncio.Queue[tuple[str, dict[str, Any]] | None] = asyncio.Queue(capacity)
        self.offered = 0
        self.sent = 0
        self.dropped = 0
        self.failed = 0
        self._overflow = ThrottledWarning(log)
        self._failure = ThrottledWarning(log)

    def offer(self, group: str, message: dict[str, Any]) -> None:
        """Queue a message for its group; never blocks the tick path."""
        self.offered += 1
        try:
            self._queue.put_nowait((group, message))
        except asyncio.QueueFull:
            self.dropped += 1
            self._overflow.warn(
                "publish queue full: %d messages dropped so far (subscribers see the gap in seq)",
                self.dropped,
            )

    def backlog(self) -> int:
        return self._queue.qsize()

    async def run(self) -> None:
        """Drain the queue until `stop()`. What is queued is sent a group at a time in
        order, the groups side by side when `overlap`: a remote broker's round trips
        overlap instead of capping the rate at one message per round trip."""
        while True:
            item = await self._queue.get()
            by_group: dict[str, list[dict[str, Any]]] = {}
            count = 0
            while item is not None:
                by_group.setdefault(item[0], []).append(item[1])
                count += 1
                if count >= SEND_AT_ONCE or self._queue.empty():
                    break
                item = self._queue.get_nowait()
            if self.overlap and len(by_group) > 1:
                await asyncio.gather(*(self._send_in_order(g, m) for g, m in by_group.items()))
            else:
                for group, messages in by_group.items():
                    await self._send_in_order(group, messages)
            if item is None:
                return

    async def _send_in_order(self, group: str, messages: list[dict[str, Any]]) -> None:
        for message in messages:
            try:
                await self._send(group, message)
                self.sent += 1
            except Exception as exc:
                # The message is lost to the broker; subscribers see the gap in seq and
                # resynchronise from a snapshot. Counted, and logged at a bounded rate.
                self.failed += 1
                self._failure.warn(
                    "publishing to %s failed (%s: %s); %d messages lost so far",
                    group,
                    type(exc).__name__,
                    exc,
                    self.failed,
                )

    async def stop(self) -> None:
        """Send what is queued, then end `run()`."""
        await self._queue.put(None)


class Pipeline:
    """Takes ticks from every feed into the engine, the publisher and the writer."""

    def __init__(
        self,
        engine: MarketEngine,
        *,
        publisher: Publisher | None = None,
        writer: BatchWriter | None = None,
        analysis_every_ms: int = 100,
        hooks: Sequence[TickHook] = (),
    ) -> None:
        self.engine = engine
        self.hooks = list(hooks)
        self.publisher = publisher
        self.writer = writer
        # Restarting the pipeline restarts sequence numbers; the epoch tells them apart.
        self.epoch = time.time_ns()
        self.analysis_every_ns = analysis_every_ms * 1_000_000
        self._analysis_due: dict[str, int] = {}
        self.analysis_seq: dict[str, int] = {}
        self._groups: dict[str, str] = {}
        self._pending: dict[str, _Pending] = {}
        self._flush_handle: asyncio.TimerHandle | asyncio.Handle | None = None  # one is due
        self.pace = FlushPace()
        # Ticks that raised while being processed, by stage; each was dropped whole.
        self.faults: Counter[str] = Counter()
        self._fault_log = ThrottledWarning(log)

    def backfill(self, ticks: Iterable[Tick]) -> int:
        """Fold past ticks into the state and the store before anyone subscribes: nothing
        is published (subscribers start from snapshots). Returns how many were accepted."""
        return sum(self.ingest(tick, live=False, publish=False) is None for tick in ticks)

    def ingest(self, tick: Tick, *, live: bool = True, publish: bool = True) -> Rejection | None:
        """Process one tick; return why it was rejected, or None when accepted.

        Never raises: a tick that makes any stage fail is counted and logged with the
        tick, and the rest of the market goes on. Validation (every bound, before any
        state changes) makes such a failure a bug, not an input the market can be fed.
        """
        try:
            result = self.engine.process(tick, live=live)
        except Exception:
            return self._fault("engine", tick)
        if isinstance(result, Rejection):
            return result
        try:
            self._publish(result, tick, publish)
        except Exception:
            # The state has the tick; its message is lost. Hubs see the skipped seq on
            # the next message and resynchronise from a snapshot: never a silent gap.
            self._fault("publish", tick)
        if self.writer is not None:
            try:
                self.writer.note(result)
            except Exception:
                self._fault("writer", tick)
        if publish:
            for hook in self.hooks:
                try:
                    hook.on_tick(result)
                except Exception:
                    self._fault(f"hook {hook.name}", tick)
        return None

    def _fault(self, stage: str, tick: Tick) -> Rejection:
        self.faults[stage] += 1
        if self._fault_log.ready():
            log.exception(
                "%s failed on a tick (%d such faults so far), dropped: %r",
                stage,
                sum(self.faults.values()),
                tick,
            )
        return rejection(RejectReason.INTERNAL_ERROR)

    def _publish(self, result: TickUpdate, tick: Tick, publish: bool) -> None:
        if not publish or self.publisher is None:
            return
        symbol = tick.symbol
        pending = self._pending.get(symbol)
        if pending is not None and result.seq == pending.last.seq + 1:
            pending.last = result
            pending.trades.append(tick)
        else:
            if pending is not None:  # a tick kept from publishing came between
                self._send(self._pending.pop(symbol))
            pending = self._pending[symbol] = _Pending(result.seq, result, [tick], [])
        if result.closed:
            pending.closed.extend((result.seq, c) for c in result.closed)
        if len(pending.trades) >= MAX_BATCH_TRADES:
            self._send(self._pending.pop(symbol))
        elif self._flush_handle is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a script feeding the pipeline): now
                self.flush()
                return
            now = loop.time()  # (time.monotonic, the pace's clock)
            wait = self.pace.wait(now)
            if wait == 0:
                self._flush_handle = loop.call_soon(self.flush)
            else:  # the budget is spent: the trades gather until it is back
                self._flush_handle = loop.call_at(now + wait, self.flush)

    def pending_trades(self) -> int:
        """Accepted trades not yet in a broker message."""
        return sum(len(p.trades) for p in self._pending.values())

    def flush(self) -> None:
        """Send every symbol's pending trades (the loop calls it once it turns, or once
        the last flush's pace allows)."""
        if self._flush_handle is not None:
            self._flush_handle.cancel()  # (a flush called directly replaces the one due)
            self._flush_handle = None
        pending, self._pending = self._pending, {}
        for batch in pending.values():
            try:
                self._send(batch)
            except Exception:
                # The state has the ticks; their message is lost. Hubs see the skipped seq
                # on the next message and resynchronise from a snapshot.
                self._fault("publish", batch.last.tick)

    def _send(self, batch: _Pending) -> None:
        if self.publisher is None:
            return
        started = time.monotonic()  # (the event loop's clock)
        try:
            self._build_and_offer(batch)
        finally:
            self.pace.spend(started, time.monotonic())

    def _build_and_offer(self, batch: _Pending) -> None:
        if self.publisher is None:
            return
        symbol = batch.last.tick.symbol
        with_analysis, analysis_seq = self.analysis_due(symbol, batch.last.tick.ts_recv)
        group = self._groups.get(symbol) or self._groups.setdefault(symbol, market_group(symbol))
        self.publisher.offer(
            group,
            batch_message(
                batch.last,
                first=batch.first,
                trades=batch.trades,
                closed=batch.closed,
                epoch=self.epoch,
                with_analysis=with_analysis,
                analysis_seq=analysis_seq,
                places=self.places(symbol),
            ),
        )

    def analysis_due(self, symbol: str, now: int) -> tuple[bool, int]:
        """Whether the next message of a symbol carries indicator values on its forming
        candles (at most every analysis_every_ms: subscribers conflate them to that pace
        anyway; a closed candle always carries its final values), and their number."""
        analysis_seq = self.analysis_seq.get(symbol, 0)
        if now < self._analysis_due.get(symbol, 0):
            return False, analysis_seq
        self._analysis_due[symbol] = now + self.analysis_every_ns
        self.analysis_seq[symbol] = analysis_seq + 1
        return True, analysis_seq + 1

    def snapshot(self, symbol: str) -> dict[str, Any]:
        """The exact current state of a symbol with its sequence numbers (for the Hubs)."""
        return symbol_snapshot(
            self.engine.states.get(symbol),
            symbol=symbol,
            epoch=self.epoch,
            seq=self.engine.seq.get(symbol, 0),
            analysis_seq=self.analysis_seq.get(symbol, 0),
            places=self.places(symbol),
        )

    def places(self, symbol: str) -> int:
        """The decimals of the symbol's prices on the wire (its tick size's)."""
        spec = self.engine.instruments.get(symbol)
        return 2 if spec is None else price_places(spec.tick_size)

    def stats(self) -> dict[str, Any]:
        """Counters for monitoring: accepted, rejected by reason, publish and writer state."""
        validator = self.engine.validator
        stats: dict[str, Any] = {
            "accepted": validator.accepted,
            "rejected": dict(validator.rejected),
            "symbols": len(self.engine.states),
            "faults": dict(self.faults),
        }
        if self.publisher is not None:
            stats["published"] = self.publisher.sent
            # Lost to subscribers either way: the queue was full, or the broker failed.
            stats["publish_dropped"] = self.publisher.dropped + self.publisher.failed
            stats["publish_failed"] = self.publisher.failed
            stats["publish_backlog"] = self.publisher.backlog()
        if self.writer is not None:
            s = self.writer.stats
            stats["writer"] = {
                "flushes": s.flushes,
                "rows_written": s.rows_written,
                "failures": s.failures,
                "dropped_ticks": s.dropped_ticks,
                "dropped_candles": s.dropped_candles,
                "refused_rows": s.refused_rows,
                "last_flush_ms": round(s.last_flush_ms, 1),
                "pending": self.writer.pending(),
            }
        return stats
