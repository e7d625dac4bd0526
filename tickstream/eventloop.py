"""The event loop of every long-running process: uvloop where it is installed (uvicorn's
`standard` extra brings it, and uvicorn runs the web process on it), else asyncio's own.

`runfeeds` runs the pipeline on it as the web process does when embedded: the pipeline
turns the loop once per feed frame, and a turn costs less on uvloop (with a turn for every
tick, 58-62k ticks/s against 52-55k on asyncio's own loop: `bench_publish` of
bench/pipeline.py, 50,000 ticks, three runs of each in turn).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's loop constructor, or None (asyncio's default) where it is not installed."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - installed with uvicorn[standard]
        return None
    return uvloop.new_event_loop


def run(main: Coroutine[Any, Any, T]) -> T:
    """`asyncio.run` on the process's loop."""
    with asyncio.Runner(loop_factory=loop_factory()) as runner:
        return runner.run(main)
