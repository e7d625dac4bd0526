"""What the market side puts on the channel layer: the group of each symbol's market data
and the channels the pipeline answers requests on. `stream` reads these names from here;
`market` never imports `stream`."""

from __future__ import annotations

import re
from typing import Any

_VALID = re.compile(r"^[a-zA-Z0-9\-_.]{1,99}$")


class GroupNameError(ValueError):
    """A name Channels would refuse (ASCII letters, digits, - _ . only, under 100 chars)."""


def checked_group(name: str) -> str:
    """`name` if Channels accepts it as a group or channel name, else GroupNameError."""
    if not _VALID.match(name):
        raise GroupNameError(f"invalid channel-layer group name {name!r}")
    return name


def market_group(symbol: str) -> str:
    """The group of one symbol's market data; its members are the Hubs, not browsers."""
    return checked_group(f"md.{symbol}")


INGEST_CHANNEL = "market.ingest"  # pushed ticks for the pipeline, answered per tick
SNAPSHOT_CHANNEL = "market.snapshot"  # exact snapshots of a symbol for the Hubs
FEEDS_CHANNEL = "market.feeds"  # the health of the running feeds, on request
# The group of the websocket channel `feeds`: the stream app's group of a published
# channel (`pub.<name>`), which a test checks against the stream's registry.
FEEDS_GROUP = "pub.feeds"


def request_channel(layer: Any, name: str) -> str:
    """A request channel's name on this deployment's broker: the layer's prefix first.

    The Redis layer prefixes groups and the channels it makes, but not a named channel, so
    without this two deployments sharing one Redis (`CHANNEL_PREFIX` apart) would answer
    each other's ingest and snapshot requests."""
    prefix = getattr(layer, "prefix", "") or ""
    return checked_group(f"{prefix}.{name}" if prefix else name)
