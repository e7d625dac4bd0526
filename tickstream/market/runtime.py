"""The market runtime of a process: feeds, pipeline, publisher, writer and ingest listener.

`make run` starts one inside the web process (FEEDS_MODE=embedded); `manage.py runfeeds`
starts one on its own (FEEDS_MODE=external), and web processes then reach it for HTTP
ingest through the channel layer.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

from asgiref.sync import sync_to_async
from channels.layers import BaseChannelLayer, InMemoryChannelLayer, get_channel_layer
from django.conf import settings

from tickstream.db import Outage, db_call
from tickstream.market.backfill import fill_from_venue
from tickstream.market.broker import (
    FEEDS_CHANNEL,
    FEEDS_GROUP,
    INGEST_CHANNEL,
    SNAPSHOT_CHANNEL,
    request_channel,
)
from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.messages import tick_from_dict
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.base import Feed, backoff_delay, supervise
from tickstream.market.feeds.registry import build_feeds
from tickstream.market.hooks import tick_hooks
from tickstream.market.pipeline import Pipeline, Publisher
from tickstream.market.upserts import BatchStore
from tickstream.market.writer import BatchWriter

log = logging.getLogger(__name__)

INSTRUMENT_REFRESH_S = 30.0
FEEDS_HEALTH_EVERY_S = 1.0  # the `feeds` channel's pace
HYDRATE_CANDLES = 300  # closed candles per symbol and interval to warm indicators up
VENUE_HISTORY_TIMEOUT_S = 60.0  # a first start waits this long at most for a feed's past


def _load_instruments() -> list[InstrumentSpec]:
    from tickstream.market.selectors import instrument_specs

    return instrument_specs()


def _hydrate(engine: MarketEngine) -> tuple[int, int]:
    """Restore each symbol's session quote and warm its indicators up from stored candles,
    so a restart neither resets the day's statistics nor starts the indicators cold.
    Returns the symbols restored and how many of them had a stored quote (a market that
    ran before: candles alone may be imported history)."""
    return _restore(engine, _stored(engine))


Stored = list[tuple[str, Any, dict[str, tuple[list[Any], Any]]]]


def _stored(engine: MarketEngine, symbols: Sequence[str] | None = None) -> Stored:
    """What the database holds to restore (all symbols, or `symbols`); read in a thread."""
    from tickstream.market.selectors import stored_market_state

    return list(stored_market_state([i.name for i in engine.intervals], HYDRATE_CANDLES, symbols))


def _restore(engine: MarketEngine, stored: Stored) -> tuple[int, int]:
    """Put what was read into the engine (on the thread that owns it)."""
    restored = quoted = 0
    for symbol, quote, series in stored:
        state = engine.state(symbol)
        if quote is not None:
            state.quote = quote
            state.last_ts = quote.ts
            quoted += 1
        for interval_name, (history, forming) in series.items():
            target = state.series_for(interval_name)
            if target is not None:
                target.restore(history, forming)
                if forming is not None:
                    state.last_ts = max(state.last_ts, forming.start)
        restored += 1
    return restored, quoted


class MarketRuntime:
    """Owns the running pieces of the market side of one process."""

    def __init__(
        self,
        pipeline: Pipeline,
        feeds: Sequence[Feed],
        *,
        listen_ingest: bool,
        layer: BaseChannelLayer | None,
        backfill: bool = False,
        venue_history: bool = False,
    ) -> None:
        self.pipeline = pipeline
        self.feeds = list(feeds)
        self.listen_ingest = listen_ingest
        self.layer = layer
        self.backfill = backfill  # the store was empty: let feeds fill in their past first
        # Live feeds fetch the recent candles of symbols with none stored before they start.
        self.venue_history = venue_history
        self._tasks: list[asyncio.Task[None]] = []

    def snapshot(self, symbol: str) -> dict[str, Any]:
        return self.pipeline.snapshot(symbol)

    def feeds_health(self) -> dict[str, Any]:
        """Each feed's state and counters (`GET /api/feeds/`, the `feeds` channel)."""
        now = time.time_ns()
        return {"type": "market.feeds", "feeds": [f.health.as_dict(now) for f in self.feeds]}

    def ingest(self, tick: Tick, *, live: bool = True) -> dict[str, str] | None:
        problem = self.pipeline.ingest(tick, live=live)
        if problem is None:
            return None
        return {"code": problem.reason.value, "message": problem.message}

    async def start(self) -> None:
        p = self.pipeline
        for hook in p.hooks:
            await hook.start()
        if p.publisher is not None:
            self._spawn(p.publisher.run(), "publisher")
        if p.writer is not None:
            self._spawn(p.writer.run(), "writer")
        if self.backfill:
            now = time.time_ns()
            for feed in self.feeds:
                count = p.backfill(feed.history(now))
                if count:
                    log.info("%s: %d past ticks backfilled", feed.describe(), count)
        for feed in self.feeds:
            self._spawn(self._run_feed(feed), f"feed {feed.describe()}")
        self._spawn(self._refresh_instruments(), "instrument refresh")
        if self.listen_ingest and self.layer is not None:
            self._spawn(self._serve_ingest(self.layer), "ingest listener")
            self._spawn(self._serve_snapshots(self.layer), "snapshot listener")
            self._spawn(
                self._serve(self.layer, FEEDS_CHANNEL, lambda m: self.feeds_health()),
                "feeds listener",
            )
        if self.layer is not None:
            self._spawn(self._publish_health(self.layer), "feeds health")

    async def _run_feed(self, feed: Feed) -> None:
        """Fill in the venue's recent candles where none are stored (bounded in time), then
        keep the feed running. Its trades wait for its history, so the engine warms its
        symbols up from the candles before the first live trade."""
        if self.venue_history:
            try:
                await asyncio.wait_for(self._venue_history(feed), VENUE_HISTORY_TIMEOUT_S)
            except TimeoutError:
                log.warning(
                    "%s: no history within %gs; going live without the rest",
                    feed.describe(),
                    VENUE_HISTORY_TIMEOUT_S,
                )
            except Exception:
                log.exception("%s: history from the venue failed", feed.describe())
        log.info("feed started: %s", feed.describe())
        p = self.pipeline
        await supervise(feed, lambda t: p.ingest(t, live=feed.live))

    async def _venue_history(self, feed: Feed) -> None:
        engine = self.pipeline.engine
        filled = await fill_from_venue(feed, engine.intervals)
        if not filled:
            return
        stored = await sync_to_async(_stored)(engine, list(filled))
        _restore(engine, stored)
        for symbol, prev_close in filled.items():
            quote = engine.state(symbol).quote
            if quote.last is None and prev_close is not None:
                quote.prev_close = prev_close  # the change of the first session is against it

    def _spawn(self, coro: Any, name: str) -> None:
        self._tasks.append(asyncio.create_task(coro, name=name))

    async def _refresh_instruments(self) -> None:
        outage = Outage(log, "reloading instruments (the known ones are kept)")
        while True:
            await asyncio.sleep(INSTRUMENT_REFRESH_S)
            try:
                specs = await db_call(_load_instruments)
                outage.ok()
            except Exception as exc:
                outage.failed(exc)
                continue
            self.pipeline.engine.set_instruments(specs)

    async def _publish_health(self, layer: BaseChannelLayer) -> None:
        """The feeds' health on the `feeds` channel, once a second (conflated by the Hubs)."""
        while True:
            await asyncio.sleep(FEEDS_HEALTH_EVERY_S)
            health = self.feeds_health()
            message = {
                "type": "stream.publish",
                "channel": "feeds",
                "group": FEEDS_GROUP,
                "data": {"feeds": health["feeds"]},
                "conflate": True,
            }
            try:
                await layer.group_send(FEEDS_GROUP, message)
            except Exception as exc:  # the broker is down: the next second tries again
                log.debug("feeds health not sent: %s", exc)

    async def _serve_ingest(self, layer: BaseChannelLayer) -> None:
        await self._serve(layer, INGEST_CHANNEL, self._ingest_request)

    def _ingest_request(self, message: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in message["ticks"]:
            try:
                tick = tick_from_dict(item)
            except (KeyError, TypeError, ValueError, ArithmeticError):
                results.append({"code": "malformed_tick", "message": "unreadable tick"})
                continue
            results.append(self.ingest(tick))
        return {"type": "market.ingest.result", "results": results}

    async def _serve_snapshots(self, layer: BaseChannelLayer) -> None:
        await self._serve(layer, SNAPSHOT_CHANNEL, lambda m: self.snapshot(str(m["symbol"])))

    async def _serve(
        self,
        layer: BaseChannelLayer,
        channel: str,
        answer: Callable[[dict[str, Any]], dict[str, Any]],
    ) -> None:
        """Answer requests on `channel` (this deployment's: `request_channel`) until
        cancelled. A request that cannot be answered gets an error reply; a broker outage
        is waited out with backoff."""
        channel = request_channel(layer, channel)
        failures = 0
        while True:
            try:
                message = await layer.receive(channel)
                failures = 0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failures += 1
                delay = backoff_delay(failures, cap=5.0)
                log.warning(
                    "%s: channel layer unreachable (%s); retrying in %.1fs", channel, exc, delay
                )
                await asyncio.sleep(delay)
                continue
            reply = message.get("reply_channel")
            try:
                result = answer(message)
            except Exception:
                log.exception("could not answer a request on %s", channel)
                result = {"type": "market.error"}
            if isinstance(reply, str):
                try:
                    await layer.send(reply, result)
                except Exception as exc:
                    log.warning("could not reply on %s: %s", channel, exc)

    async def stop(self) -> None:
        """Stop the feeds, send what is queued, write what is pending."""
        feeds_and_more = [t for t in self._tasks if t.get_name() not in {"publisher", "writer"}]
        for task in feeds_and_more:
            task.cancel()
        for task in feeds_and_more:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        p = self.pipeline
        p.flush()  # the trades not yet in a message
        if p.publisher is not None:
            await p.publisher.stop()
        if p.writer is not None:
            await p.writer.stop()
        for hook in p.hooks:
            try:
                await hook.stop()
            except Exception:
                log.exception("tick hook %s failed to stop", hook.name)
        for task in self._tasks:
            if task.get_name() in {"publisher", "writer"}:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._tasks.clear()
        log.info("market runtime stopped: %s", p.stats())


async def build_runtime(
    *, feeds_text: str | None = None, listen_ingest: bool = False, with_writer: bool = True
) -> MarketRuntime:
    """Build a runtime from settings and the database (instruments, last prices)."""
    specs = await sync_to_async(_load_instruments)()
    engine = MarketEngine(
        specs,
        [parse_interval(i) for i in settings.MARKET_INTERVALS],
        parse_indicators(settings.MARKET_INDICATORS),
        max_delay_s=settings.MARKET_MAX_TICK_DELAY_S,
        reorder_tolerance_s=settings.MARKET_REORDER_TOLERANCE_S,
    )
    restored, quoted = await sync_to_async(_hydrate)(engine)
    log.info("market state restored for %d symbols from the database", restored)
    layer = get_channel_layer()
    publisher = None
    if layer is not None:
        publisher = Publisher(
            layer.group_send,
            capacity=settings.MARKET_PUBLISH_QUEUE,
            overlap=not isinstance(layer, InMemoryChannelLayer),
        )
    writer = None
    if with_writer:
        store = BatchStore()
        writer = BatchWriter(
            store,
            close=store.close,
            flush_ms=settings.MARKET_WRITER_FLUSH_MS,
            batch_size=settings.MARKET_WRITER_BATCH,
            queue_limit=settings.MARKET_WRITER_QUEUE,
            store_ticks=settings.MARKET_STORE_TICKS,
        )
    pipeline = Pipeline(
        engine,
        publisher=publisher,
        writer=writer,
        analysis_every_ms=settings.MARKET_ANALYSIS_EVERY_MS,
        hooks=tick_hooks(),
    )
    # The simulated market carries on from the last stored prices.
    resumed = [
        replace(spec, start_price=engine.states[spec.symbol].quote.last or spec.start_price)
        if spec.symbol in engine.states
        else spec
        for spec in specs
    ]
    feeds = build_feeds(
        settings.FEEDS if feeds_text is None else feeds_text,
        resumed,
        sim_defaults={
            "seed": settings.SIM_SEED,
            "rate": settings.SIM_RATE,
            "speed": settings.SIM_SPEED,
            "symbols": settings.SIM_SYMBOLS,
            "stock_hours": settings.SIM_STOCK_HOURS,
            "backfill_s": settings.SIM_BACKFILL_S,
        },
    )
    return MarketRuntime(
        pipeline,
        feeds,
        listen_ingest=listen_ingest,
        layer=layer,
        backfill=quoted == 0,
        venue_history=settings.MARKET_VENUE_HISTORY,
    )


_current: MarketRuntime | None = None


def current_runtime() -> MarketRuntime | None:
    """The runtime embedded in this process, if any."""
    return _current


async def start_embedded() -> MarketRuntime:
    global _current
    if _current is None:
        runtime = await build_runtime()
        await runtime.start()
        _current = runtime
    return _current


async def stop_embedded() -> None:
    global _current
    runtime, _current = _current, None
    if runtime is not None:
        await runtime.stop()
