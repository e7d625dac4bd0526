"""What paper trading sends, once for REST, the `orders` channel and the OpenAPI schema:
balances, accounts, orders and fills (`common/shapes.py`)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tickstream.common.shapes import Out, Shape
from tickstream.market.core.messages import decimal_str
from tickstream.market.core.ticks import datetime_to_iso
from tickstream.trading.core.events import Liquidity
from tickstream.trading.core.orders import OrderType, Side, Status, TimeInForce

AVERAGE_PLACES = Decimal("1e-10")


def _dec(value: Decimal | None) -> str | None:
    return None if value is None else decimal_str(value)


def _iso(value: Any) -> str | None:
    return None if value is None else datetime_to_iso(value)


def _average(o: Any) -> str | None:
    return _dec((o.notional / o.filled).quantize(AVERAGE_PLACES)) if o.filled else None


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
        "quantity": Out(lambda o: _dec(o.quantity), "decimal", help="on the quantity step"),
        "price": Out(lambda o: _dec(o.price), "decimal", null=True, help="limit, stop_limit"),
        "stop_price": Out(lambda o: _dec(o.stop_price), "decimal", null=True),
        "time_in_force": Out(lambda o: o.time_in_force, "choice", choices=tuple(TimeInForce)),
        "status": Out(lambda o: o.status, "choice", choices=tuple(Status)),
        "reason": Out(lambda o: o.reason or None, null=True, help="why it ended"),
        "filled": Out(lambda o: _dec(o.filled), "decimal"),
        "average_price": Out(_average, "decimal", null=True),
        "fees": Out(lambda o: _dec(o.fees), "decimal"),
        "reserved": Out(lambda o: _dec(o.held), "decimal", help="funds it still holds"),
        "triggered": Out(lambda o: o.triggered, "bool"),
        "expires_at": Out(lambda o: _iso(o.expires_at), "time", null=True),
        "created_at": Out(lambda o: _iso(o.created_at), "time"),
        "updated_at": Out(lambda o: _iso(o.updated_at), "time"),
    },
)

FILL = Shape(
    "Fill",
    {
        "id": Out(lambda f: f.pk, "int"),
        "order": Out(lambda f: f.order_id, "int"),
        "symbol": Out(lambda f: f.order.instrument.symbol),
        "side": Out(lambda f: f.order.side, "choice", choices=tuple(Side)),
        "price": Out(lambda f: _dec(f.price), "decimal"),
        "quantity": Out(lambda f: _dec(f.quantity), "decimal"),
        "fee": Out(lambda f: _dec(f.fee), "decimal"),
        "fee_currency": Out(lambda f: f.fee_currency),
        "liquidity": Out(lambda f: f.liquidity, "choice", choices=tuple(Liquidity)),
        "trade": Out(lambda f: f.trade, help="the market trade that filled it"),
        "time": Out(lambda f: _iso(f.time), "time"),
    },
)
