"""Tick hooks: how apps above `market` act on every accepted live tick without `market`
importing them (ARCHITECTURE.md: the alert evaluator, the matching engine).

An app registers a hook in its `AppConfig.ready()`::

    from tickstream.market.hooks import register_tick_hook

    register_tick_hook(AlertHook())

The process that runs the pipeline (the web process when embedded, `runfeeds` when
split) starts every registered hook with its runtime, calls `on_tick` for each accepted
live tick after it is published, and stops the hooks with the runtime. So with several web
processes a hook runs exactly once per tick. `on_tick` runs on the tick path: it must not
block (hand I/O to a task); a hook that raises is counted and logged, and the tick and the
other hooks go on.
"""

from __future__ import annotations

from typing import Protocol

from tickstream.market.core.engine import TickUpdate


class TickHook(Protocol):
    """Something that acts on accepted live ticks in the pipeline's process."""

    name: str

    async def start(self) -> None:
        """Called when the market runtime starts (load state, start background work)."""

    async def stop(self) -> None:
        """Called when the market runtime stops (finish pending work)."""

    def on_tick(self, update: TickUpdate) -> None:
        """Called for every accepted live tick, after it is published; never blocks."""


_hooks: dict[str, TickHook] = {}


def register_tick_hook(hook: TickHook, *, replace: bool = False) -> None:
    """Add a hook the pipeline calls; a name registers once unless `replace`."""
    if hook.name in _hooks and not replace:
        raise ValueError(f"tick hook {hook.name!r} is registered already")
    _hooks[hook.name] = hook


def tick_hooks() -> list[TickHook]:
    """The registered hooks, in registration order."""
    return list(_hooks.values())
