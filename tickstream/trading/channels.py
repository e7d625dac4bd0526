"""The owner's `orders` channel (order updates, fills and balances, pushed on commit) and
the websocket operations that place and cancel orders: registered by this app, so
`stream` serves them without knowing it (docs/protocol.md)."""

from __future__ import annotations

from typing import Any

from tickstream.stream.core.protocol import ChannelRef, ChannelShape
from tickstream.stream.publish import call_then_send
from tickstream.stream.registry import (
    OperationError,
    SequencedKind,
    register,
    register_operation,
    user_channel_group,
)


def orders_snapshot(user: Any, ref: ChannelRef) -> dict[str, Any]:
    """Balances, open orders and the latest fills: where the updates start from."""
    from tickstream.trading import selectors

    return selectors.orders_snapshot(selectors.account_for(user))


def _signed_in(user: Any) -> None:
    if user is None or not user.is_authenticated:
        raise OperationError("not_authenticated", "sign in to trade")


def _place(user: Any, frame: dict[str, Any]) -> dict[str, Any]:
    from tickstream.trading import services, shapes

    placed = services.order_place_from(user=user, data=frame.get("order"))
    return {"order": shapes.ORDER.dump(placed.order), "created": placed.created}


def _cancel(user: Any, frame: dict[str, Any]) -> dict[str, Any]:
    from tickstream.trading import selectors, services, shapes

    order_id = frame.get("order_id")
    if isinstance(order_id, bool) or not isinstance(order_id, int):
        raise OperationError("bad_order_id", "order_id must be an order's id (an integer)")
    order = selectors.order_for(user, order_id)
    if order is None:
        raise OperationError("not_found", f"no order {order_id} of yours")
    cancelled = services.order_cancel(order=order)
    return {"order": shapes.ORDER.dump(cancelled)}


async def place_operation(user: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """`{"op": "order.place", "id": 1, "order": {...the REST fields...}}`."""
    _signed_in(user)
    return await call_then_send(_place, user, frame)


async def cancel_operation(user: Any, frame: dict[str, Any]) -> dict[str, Any]:
    """`{"op": "order.cancel", "id": 2, "order_id": 42}`."""
    _signed_in(user)
    return await call_then_send(_cancel, user, frame)


def register_orders_channel() -> None:
    register(
        SequencedKind(
            ChannelShape("orders"),
            needs_user=True,
            group=user_channel_group,
            snapshot=orders_snapshot,
        ),
        replace=True,
    )
    register_operation("order.place", place_operation, replace=True)
    register_operation("order.cancel", cancel_operation, replace=True)
