"""Notices: a change committed by one process, told at once to the processes that act on
it, through the broker.

An order placed by a web process must reach the matching engine, an alert the evaluator
(both in the pipeline's process), a rotated token every web process's open sockets. Each
of those also finds the change by itself (the engine and the evaluator poll the database,
a socket's next check reads it), so a notice is the fast path and never the only one: a
notice the broker loses costs latency, not correctness.

`notify(group, message)` sends once the current transaction commits (at once outside
one), so a listener never reads a change before it is there; the message carries `sent`,
the time it left (epoch seconds), for the listener to measure how soon it arrived. A
`Listener` joins its group on a broker channel of its own and hands each notice to its
handler; it survives broker outages with backoff and joins again, since a restarted
broker forgets who listens.
Cost: one broker message per change, and the handler's work per notice.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from tickstream.market.broker import checked_group

log = logging.getLogger(__name__)
REJOIN_S = 600.0  # a group membership the broker may expire is renewed this often
failures = 0  # notices the broker refused (each is logged; the listener's poll catches up)

Handler = Callable[[dict[str, Any]], Awaitable[None]]


def notify(group: str, message: dict[str, Any]) -> None:
    """Send `message` (JSON-serialisable, with a `type`) to the listeners of `group` once
    the current transaction commits; from async code, use `anotify`."""
    checked_group(group)
    from tickstream.stream.publish import deferring

    box = deferring()

    def committed() -> None:
        stamped = message | {"sent": time.time()}
        for at_commit in list(_at_commit.get(group, ())):  # this process's, at once
            at_commit(stamped)
        if box is not None:  # the caller on the event loop sends it (`publish.deferred`)
            box.append((group, stamped))
        else:
            _send_now(group, stamped)

    transaction.on_commit(committed)


def _send_now(group: str, message: dict[str, Any]) -> None:
    global failures
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(group, message)
    except Exception as exc:
        failures += 1
        log.warning("notice to %s not sent (%d so far): %s", group, failures, exc)


async def anotify(group: str, message: dict[str, Any]) -> None:
    """`notify` from async code (which holds no transaction): sent now; a broker failure
    is logged and counted."""
    global failures
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        await layer.group_send(checked_group(group), message | {"sent": time.time()})
    except Exception as exc:
        failures += 1
        log.warning("notice to %s not sent (%d so far): %s", group, failures, exc)


# Per group, the `at_commit` callbacks of this process's listeners: a notice committed
# here is handed to them at the commit, before the broker brings it; the broker's copy
# comes too (for the other processes), so a handler must take a notice twice as once.
_at_commit: dict[str, set[Callable[[dict[str, Any]], None]]] = {}


class Listener:
    """Receives the notices of `group` and awaits `handle` for each, in order (with
    `at_commit`, those of this process are also handed to it at their commit). A failing
    handler is logged and the next notice handled."""

    def __init__(
        self,
        group: str,
        handle: Handler,
        *,
        name: str = "",
        layer: Any = None,
        at_commit: Callable[[dict[str, Any]], None] | None = None,
    ) -> None:
        self.group = checked_group(group)
        self.layer = layer
        self.handle = handle
        # Called in the committing thread with a notice of this process, before `handle`
        # has it: it must be thread-safe and quick (a deque's append).
        self.at_commit = at_commit
        self.name = name or group
        self.received = 0
        self.ready = asyncio.Event()  # set once the group is joined
        self._task: asyncio.Task[None] | None = None

    async def start(self, *, wait: float = 2.0) -> None:
        """Listen in a task; returns once the group is joined, or after `wait` seconds
        of trying (the task goes on trying)."""
        if self.at_commit is not None:
            _at_commit.setdefault(self.group, set()).add(self.at_commit)
        self._task = asyncio.create_task(self._run(), name=f"notices {self.name}")
        if wait > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.ready.wait(), wait)

    async def stop(self) -> None:
        if self.at_commit is not None:
            _at_commit.get(self.group, set()).discard(self.at_commit)
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        layer = self.layer or get_channel_layer()
        if layer is None:
            return
        failures = 0
        channel = ""
        while True:
            try:
                if not channel:
                    channel = await layer.new_channel("notice.")
                await layer.group_add(self.group, channel)
                self.ready.set()
                failures = 0
                await self._receive(layer, channel)
            except asyncio.CancelledError:
                with contextlib.suppress(Exception):
                    if channel:
                        await asyncio.shield(layer.group_discard(self.group, channel))
                raise
            except Exception as exc:
                failures += 1
                delay = min(5.0, 0.1 * 2**failures)
                log.warning(
                    "%s: the broker failed (%s); joining again in %.1fs", self.name, exc, delay
                )
                await asyncio.sleep(delay)

    async def _receive(self, layer: Any, channel: str) -> None:
        """Notices until REJOIN_S passed (then the caller joins again) or the broker fails."""
        loop = asyncio.get_running_loop()
        until = loop.time() + REJOIN_S
        while (left := until - loop.time()) > 0:
            try:
                async with asyncio.timeout(left):  # no task of its own, as wait_for makes
                    message = await layer.receive(channel)
            except TimeoutError:
                return
            self.received += 1
            try:
                await self.handle(message)
            except Exception:
                log.exception("%s: a notice could not be handled", self.name)
