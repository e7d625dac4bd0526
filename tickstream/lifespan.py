"""ASGI lifespan: starts the embedded market runtime with the server, stops it with it."""

from __future__ import annotations

import gc
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)

# Full (generation 2) collections stop the process for a time proportional to every live
# container: measured with 1,000 streaming connections, 120-150 ms every few seconds, the
# largest share of the stream's p99 latency. After start-up, what is alive (modules, Django,
# instruments) stays alive: freezing it takes it out of every later collection, and full
# collections are made ten times rarer. Young generations are collected as usual, so
# short-lived cycles are reclaimed at once.
GC_FULL_EVERY = 100  # young (generation 1) collections per full one; CPython's default: 10


def tune_gc() -> None:
    gc.collect()
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, GC_FULL_EVERY)
    path = os.environ.get("TICKSTREAM_GC_LOG")
    if path:
        record_full_collections(path)


def record_full_collections(path: str) -> Callable[[str, dict[str, int]], None]:
    """Append a line `<monotonic s> <ms>` to `path` for every full collection (the
    benchmarks read them to count the pauses within their window)."""
    started = 0.0

    def callback(phase: str, info: dict[str, int]) -> None:
        nonlocal started
        if info.get("generation") != 2:
            return
        if phase == "start":
            started = time.monotonic()
            return
        now = time.monotonic()
        with open(path, "a") as out:  # noqa: PTH123 - rare: full collections only
            out.write(f"{now:.6f} {1000 * (now - started):.3f}\n")

    gc.callbacks.append(callback)
    return callback


async def lifespan_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Handle `lifespan.startup` / `lifespan.shutdown` for the whole process."""
    from tickstream.market import runtime

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.FEEDS_MODE == "embedded":
                try:
                    await runtime.start_embedded()
                except Exception as exc:
                    log.exception("the market runtime did not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
            tune_gc()
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from tickstream.stream.hub import stop_hub

            await stop_hub()
            await runtime.stop_embedded()
            await send({"type": "lifespan.shutdown.complete"})
            return
