"""Running a feed in a test until it has emitted what it should."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable

from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.base import Emit


async def collect_ticks(
    run: Callable[[Emit], Awaitable[None]], want: int, *, timeout: float, linger: float
) -> list[Tick]:
    """Run `run(emit)` until it has emitted `want` ticks (or `timeout` passes), `linger`
    seconds more to catch any extra, then stop it; return the ticks."""
    ticks: list[Tick] = []
    enough = asyncio.Event()

    def emit(tick: Tick) -> None:
        ticks.append(tick)
        if len(ticks) >= want:
            enough.set()

    task = asyncio.create_task(run(emit))  # type: ignore[arg-type]
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(enough.wait(), timeout)
    await asyncio.sleep(linger)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return ticks
