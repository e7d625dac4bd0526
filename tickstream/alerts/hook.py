"""The alert evaluator: a tick hook in the pipeline's process (so with several web
processes each alert fires exactly once).

It keeps every active alert in an `AlertBook` (O(log n) per tick). An alert created,
edited or deleted is handed to it by a notice through the broker once its transaction
commits (`services._tell_evaluator`: one read of that alert), so it is checked from the
next trade on; a poll of a cheap version query every ALERTS_REFRESH_S reloads the book
should a notice be lost. What fires goes to a task that stores it and publishes it to the
owner: nothing on the tick path waits for the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import UTC, datetime
from typing import Any

from django.conf import settings

from tickstream.alerts.core.book import AlertBook, Change
from tickstream.db import Outage, db_call
from tickstream.market.core.engine import TickUpdate
from tickstream.stream.notices import Listener
from tickstream.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)
MAX_QUEUED = 100_000


class AlertHook:
    """Evaluates every accepted live tick against the users' alerts."""

    name = "alerts"

    def __init__(self) -> None:
        self.book = AlertBook()
        self.fired = 0
        self.dropped = 0
        self._seen: dict[int, Any] = {}  # alert id -> the edit time the book holds
        self._version: Any = None
        self._queue: asyncio.Queue[tuple[Change, datetime] | None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._overflow = ThrottledWarning(log)
        self._notices: Listener | None = None

    async def start(self) -> None:
        from tickstream.alerts.services import EVALUATOR_NOTICES

        self._queue = asyncio.Queue(MAX_QUEUED)
        self._notices = Listener(EVALUATOR_NOTICES, self.on_notice, name="alert evaluator")
        await self._notices.start()
        await self.reload()
        self._tasks = [
            asyncio.create_task(self._refresh_loop(), name="alerts refresh"),
            asyncio.create_task(self._record_loop(), name="alerts record"),
        ]

    async def stop(self) -> None:
        if self._notices is not None:
            await self._notices.stop()
            self._notices = None
        if self._queue is not None:
            await self._queue.put(None)  # record what fired, then end
        for task in self._tasks[1:]:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.wait_for(task, 5.0)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    async def reload(self) -> None:
        """Read the active alerts into the book. An alert the book holds unchanged keeps
        its in-memory state (its last firing may not be stored yet)."""
        from tickstream.alerts.selectors import active_alerts, alerts_version

        version = await db_call(alerts_version)
        rows = await db_call(active_alerts)
        current = {alert.id for alert, _ in rows}
        for alert_id in list(self.book.alerts):
            if alert_id not in current:
                self.book.remove(alert_id)
                self._seen.pop(alert_id, None)
        for alert, edited in rows:
            self._hold(alert, edited)
        self._version = version

    def _hold(self, alert: Any, edited: Any) -> None:
        """The alert in the book as stored; one the book holds unchanged keeps its state."""
        if alert.id in self.book.alerts and self._seen.get(alert.id) == edited:
            return
        self.book.add(alert)
        self._seen[alert.id] = edited

    async def on_notice(self, message: dict[str, Any]) -> None:
        """One alert created, edited or deleted: the book takes it as stored now."""
        from tickstream.alerts.selectors import active_alert

        try:
            alert_id = int(message["id"])
        except (KeyError, TypeError, ValueError):
            log.warning("an unreadable alert notice: %r", message)
            return
        found = await db_call(active_alert, alert_id)
        if found is None:
            self.book.remove(alert_id)
            self._seen.pop(alert_id, None)
            return
        self._hold(*found)

    async def _refresh_loop(self) -> None:
        from tickstream.alerts.selectors import alerts_version

        outage = Outage(log, "reloading alerts (the known ones are kept)")
        while True:
            await asyncio.sleep(settings.ALERTS_REFRESH_S)
            try:
                if await db_call(alerts_version) != self._version:
                    await self.reload()
                outage.ok()
            except Exception as exc:
                outage.failed(exc)

    def on_tick(self, update: TickUpdate) -> None:
        """Check the tick's price against the book; queue what fired or re-armed."""
        tick = update.tick
        changes = self.book.on_price(tick.symbol, tick.price, update.state.quote.open)
        if not changes or self._queue is None:
            return
        when = datetime.fromtimestamp(tick.ts_event / 1e9, UTC)
        for change in changes:
            try:
                self._queue.put_nowait((change, when))
            except asyncio.QueueFull:
                self.dropped += 1
                self._overflow.warn("alert queue full: %d changes dropped", self.dropped)

    async def _record_loop(self) -> None:
        from tickstream.alerts.services import alert_changes_record

        queue = self._queue
        if queue is None:
            return
        while True:
            item = await queue.get()
            batch = [] if item is None else [item]
            while not queue.empty() and len(batch) < 500:
                more = queue.get_nowait()
                if more is None:
                    item = None
                    break
                batch.append(more)
            if batch:
                try:
                    self.fired += await db_call(alert_changes_record, changes=batch)
                except Exception:
                    log.exception("storing %d alert changes failed", len(batch))
            if item is None:
                return
