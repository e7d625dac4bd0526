"""`publish(channel, data)`: the one way an app sends a real-time update to subscribers.

Call it from any Django code, sync or async (views, signals, services, management
commands). Inside a transaction the message goes out when the transaction commits, and not
at all if it rolls back, so subscribers never see data that was not saved::

    from tickstream.stream.publish import publish

    @transaction.atomic
    def order_fill(*, order, price):
        ...
        publish("orders", {"id": order.id, "status": "filled", "price": str(price)},
                user=order.account.user)

Public kinds (`ticker`, `trades`, `candles`, `analysis`) belong to the market pipeline.
Per-user kinds need the `user` whose subscribers receive it (`orders`, `alerts`) or name
their owner in the channel (`portfolio:<id>`). Any other name is a custom channel that
websocket clients cannot subscribe to yet. Data must be JSON-serialisable; send decimals
as strings.
"""

from __future__ import annotations

import asyncio
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

from tickstream.stream.groups import publish_group


class PublishError(ValueError):
    """A channel that cannot be published to."""


def user_group(kind: str, user_id: int) -> str:
    """The group of one user's `orders` or `alerts`."""
    return publish_group(f"{kind}:{user_id}")


def _group(channel: str, user: Any) -> str:
    kind = channel.split(":", 1)[0]
    if kind in {"ticker", "trades", "candles", "analysis"}:
        raise PublishError(f"{channel!r} is market data: only the pipeline publishes it")
    if kind in {"orders", "alerts"}:
        if user is None or not getattr(user, "pk", None):
            raise PublishError(f"publishing to {kind!r} needs the user it is for")
        return user_group(kind, user.pk)
    return publish_group(channel)


def publish(channel: str, data: Any, *, user: Any = None) -> None:
    """Deliver `data` to the subscribers of `channel` once the current transaction commits."""
    group = _group(channel, user)
    message = {"type": "stream.publish", "channel": channel, "group": group, "data": data}
    layer = get_channel_layer()
    if layer is None:
        return

    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        loop = None
    if loop is not None:
        # Async code holds no transaction (Django's are sync-only): send now.
        loop.create_task(layer.group_send(group, message))
        return
    transaction.on_commit(lambda: async_to_sync(layer.group_send)(group, message))
