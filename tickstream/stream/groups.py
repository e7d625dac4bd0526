"""Channel-layer groups of published channels (`publish()`), obeying Channels' naming rule."""

from __future__ import annotations

from tickstream.market.broker import checked_group


def publish_group(channel: str) -> str:
    """The group of a channel fed by `publish()` (per-user channels, later apps' events)."""
    return checked_group("pub." + channel.replace(":", "."))
