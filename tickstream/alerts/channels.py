"""The owner's `alerts` channel: registered by this app with a snapshot of the latest
firings, so a client starts from a known `seq` and follows every firing after it."""

from __future__ import annotations

from typing import Any

from tickstream.stream.core.protocol import ChannelRef, ChannelShape
from tickstream.stream.registry import SequencedKind, register, user_channel_group

RECENT = 20


def alerts_snapshot(user: Any, ref: ChannelRef) -> dict[str, Any]:
    """The user's latest firings, newest first."""
    from tickstream.alerts.models import AlertFiring
    from tickstream.alerts.shapes import alert_message

    firings = (
        AlertFiring.objects.filter(alert__owner=user)
        .select_related("alert__instrument")
        .order_by("-fired_at", "-id")[:RECENT]
    )
    return {"recent": [alert_message(f.alert, f) for f in firings]}


def register_alerts_channel() -> None:
    register(
        SequencedKind(
            ChannelShape("alerts"),
            needs_user=True,
            group=user_channel_group,
            snapshot=alerts_snapshot,
        ),
        replace=True,
    )
