"""What paper trading sends, once for REST, the `orders` channel and the OpenAPI schema:
balances, accounts, orders and fills (`common/shapes.py`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tickstream.common.shapes import Out, Shape
from tickstream.market.core.messages import decimal_str, decimal_str_or_none
from tickstream.market.core.ticks import datetime_to_iso, iso_or_none
from tickstream.trading.core.events import Liquidity
from tickstream.trading.core.orders import OrderType, Side, Status, TimeInForce

AVERAGE_PLACES = Decimal("1e-10")


def _average(o: Any) -> str | None:
    if not o.filled:
        return None  # no fill, no average
    return decimal_str((o.notional / o.filled).quantize(AVERAGE_PLACES))


BALANCE = Shape(
    "Balance",
    {
        "currency": Out(lambda b: b.currency, help="cash (USD) or an asset by its base: BTC, AAPL"),
        "available": Out(lambda b: decimal_str(b.available), "decimal"),
        "reserved": Out(lambda b: decimal_str(b.reserved), "decimal", help="held by open orders"),
    },
)

ORDER = Shape(
    "Order",
    {
        "id": Out(lambda o: o.pk, "int"),
        "client_order_id": Out(
            lambda o: o.client_order_id or None,
            null=True,
            help="the same id again returns the first order",
        ),
        "symbol": Out(lambda o: o.instrument.symbol),
        "side": Out(lambda o: o.side, "choice", choices=tuple(Side)),
        "type": Out(lambda o: o.type, "choice", choices=tuple(OrderType)),
        "quantity": Out(lambda o: decimal_str(o.quantity), "decimal", help="on the quantity step"),
        "price": Out(
            lambda o: decimal_str_or_none(o.price), "decimal", null=True, help="limit, stop_limit"
        ),
        "stop_price": Out(lambda o: decimal_str_or_none(o.stop_price), "decimal", null=True),
        "time_in_force": Out(lambda o: o.time_in_force, "choice", choices=tuple(TimeInForce)),
        "status": Out(lambda o: o.status, "choice", choices=tuple(Status)),
        "reason": Out(lambda o: o.reason or None, null=True, help="why it ended"),
        "filled": Out(lambda o: decimal_str(o.filled), "decimal"),
        "average_price": Out(_average, "decimal", null=True),
        "fees": Out(lambda o: decimal_str(o.fees), "decimal"),
        "reserved": Out(lambda o: decimal_str(o.held), "decimal", help="funds it still holds"),
        "triggered": Out(lambda o: o.triggered, "bool"),
        "expires_at": Out(lambda o: iso_or_none(o.expires_at), "time", null=True),
        "created_at": Out(lambda o: datetime_to_iso(o.created_at), "time"),
        "updated_at": Out(lambda o: datetime_to_iso(o.updated_at), "time"),
    },
)

FILL = Shape(
    "Fill",
    {
        "id": Out(lambda f: f.pk, "int"),
        "order": Out(lambda f: f.order_id, "int"),
        "symbol": Out(lambda f: f.order.instrument.symbol),
        "side": Out(lambda f: f.order.side, "choice", choices=tuple(Side)),
        "price": Out(lambda f: decimal_str(f.price), "decimal"),
        "quantity": Out(lambda f: decimal_str(f.quantity), "decimal"),
        "fee": Out(lambda f: decimal_str(f.fee), "decimal"),
        "fee_currency": Out(lambda f: f.fee_currency),
        "liquidity": Out(lambda f: f.liquidity, "choice", choices=tuple(Liquidity)),
        "trade": Out(lambda f: f.trade, help="the market trade that filled it"),
        "time": Out(lambda f: datetime_to_iso(f.time), "time"),
    },
)
