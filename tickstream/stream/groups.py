"""Channel-layer group names, one function per kind, all obeying Channels' naming rule."""

from __future__ import annotations

import re

_VALID = re.compile(r"^[a-zA-Z0-9\-_.]{1,99}$")


class GroupNameError(ValueError):
    """A name Channels would refuse (ASCII letters, digits, - _ . only, under 100 chars)."""


def _checked(name: str) -> str:
    if not _VALID.match(name):
        raise GroupNameError(f"invalid channel-layer group name {name!r}")
    return name


def market_group(symbol: str) -> str:
    """The group of one symbol's market data; its members are the Hubs, not browsers."""
    return _checked(f"md.{symbol}")


INGEST_CHANNEL = "market.ingest"
SNAPSHOT_CHANNEL = "market.snapshot"


def publish_group(channel: str) -> str:
    """The group of a channel fed by `publish()` (per-user channels, later apps' events)."""
    return _checked("pub." + channel.replace(":", "."))
