"""The channel kinds the stream app itself serves, registered from `StreamConfig.ready()`:
the market's (served from the Hub's views of the pipeline) and the per-user channels every
deployment has. Apps above register theirs the same way (docs/channels.md)."""

from __future__ import annotations

from typing import Any

from tickstream.stream.core.protocol import MARKET_SHAPES, ChannelRef, ChannelShape
from tickstream.stream.registry import (
    MarketKind,
    PublishedKind,
    SequencedKind,
    register,
    user_channel_group,
)


async def _nobody(user: Any, ref: ChannelRef) -> bool:
    """Portfolios arrive with the portfolio app, which registers `portfolio` with its own
    owner check; until then nobody owns one."""
    return False


def feeds_snapshot(user: Any, ref: ChannelRef) -> dict[str, Any]:
    """The running feeds' health (from the pipeline's process)."""
    from asgiref.sync import async_to_sync

    from tickstream.market.gateway import PipelineUnavailable, feeds_health

    try:
        return {"feeds": async_to_sync(feeds_health)()}
    except PipelineUnavailable as exc:
        return {"feeds": [], "unavailable": str(exc)}


def register_stream_channels() -> None:
    for shape in MARKET_SHAPES:
        register(MarketKind(shape), replace=True)
    for kind in ("orders", "alerts"):  # a user's own events: one group per user
        register(
            SequencedKind(ChannelShape(kind), needs_user=True, group=user_channel_group),
            replace=True,
        )
    # Feed health: a published channel, conflated (the feed process sends it each second).
    register(PublishedKind(ChannelShape("feeds"), snapshot=feeds_snapshot, conflate=True))
    portfolio = ChannelShape("portfolio", ("id",))
    register(SequencedKind(portfolio, needs_user=True, owner=_nobody))
