"""An order as a client sends it, checked field by field (pure): the one set of rules the
REST API, the websocket and the page share. Every problem names its field and has a code.

Steps and minimums depend on the instrument and are checked by `matching.check_order`."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal
from typing import Any

from tickstream.common.core.edge import MAX_AMOUNT, MAX_PRICE, FieldError, amount, text
from tickstream.trading.core.orders import OrderType, Side, TimeInForce

MAX_CLIENT_ORDER_ID = 64


@dataclass(frozen=True, slots=True)
class OrderRequest:
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal
    price: Decimal | None
    stop_price: Decimal | None
    time_in_force: TimeInForce
    client_order_id: str


FIELDS = frozenset(f.name for f in fields(OrderRequest))  # every field an order is sent with


def _choice(data: dict[str, Any], field: str, kind: Any, default: str | None = None) -> Any:
    raw = text(data, field).strip() or default
    try:
        return kind(raw if kind is TimeInForce else (raw or "").lower())
    except ValueError:
        names = ", ".join(k.value for k in kind)
        raise FieldError(field, f"bad_{field}", f"{field} must be one of {names}") from None


def _price(data: dict[str, Any], field: str) -> Decimal | None:
    if data.get(field) is None:
        return None
    return amount(field, data[field], positive=True, bound=MAX_PRICE)


def order_request(data: dict[str, Any]) -> OrderRequest:
    """Check an order's fields; raises FieldError on the first bad one (an unknown field
    too, so a misspelt `stop_prize` is not silently ignored)."""
    unknown = sorted(set(data) - FIELDS)
    if unknown:
        raise FieldError(unknown[0], "unexpected", f"unknown field {unknown[0]!r}")
    symbol = text(data, "symbol").strip().upper()
    if not symbol:
        raise FieldError("symbol", "required", "symbol is required")
    if len(symbol) > 32:
        raise FieldError("symbol", "unknown_instrument", "symbol is longer than 32 characters")
    client_order_id = text(data, "client_order_id").strip()
    if len(client_order_id) > MAX_CLIENT_ORDER_ID or not client_order_id.isprintable():
        raise FieldError(
            "client_order_id",
            "bad_client_order_id",
            f"client_order_id must be at most {MAX_CLIENT_ORDER_ID} printable characters",
        )
    return OrderRequest(
        symbol=symbol,
        side=_choice(data, "side", Side),
        type=_choice(data, "type", OrderType),
        quantity=amount("quantity", data.get("quantity"), positive=True, bound=MAX_AMOUNT),
        price=_price(data, "price"),
        stop_price=_price(data, "stop_price"),
        time_in_force=_choice(data, "time_in_force", TimeInForce, "GTC"),
        client_order_id=client_order_id,
    )
