"""An order's fields as clients send them (one set of rules for REST, websocket and page),
and when DAY orders' sessions end."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tickstream.common.core.edge import FieldError
from tickstream.trading.core.orders import OrderType, Side, TimeInForce
from tickstream.trading.core.requests import order_request
from tickstream.trading.core.sessions import session_end

BASE = {"symbol": "btc-usd", "side": "BUY", "type": "limit", "quantity": "0.5", "price": "100"}


def test_a_good_order_is_read_exactly() -> None:
    r = order_request({**BASE, "client_order_id": " a-1 "})
    assert (r.symbol, r.side, r.type, r.time_in_force) == (
        "BTC-USD", Side.BUY, OrderType.LIMIT, TimeInForce.GTC
    )  # fmt: skip
    assert r.quantity == Decimal("0.5") and r.price == Decimal(100) and r.stop_price is None
    assert r.client_order_id == "a-1"


@pytest.mark.parametrize(
    ("change", "field", "code"),
    [
        ({"symbol": ""}, "symbol", "required"),
        ({"symbol": 5}, "symbol", "bad_symbol"),
        ({"side": "hold"}, "side", "bad_side"),
        ({"type": None}, "type", "bad_type"),
        ({"time_in_force": "gtc"}, "time_in_force", "bad_time_in_force"),
        ({"quantity": "0"}, "quantity", "out_of_range"),
        ({"quantity": "1e30"}, "quantity", "out_of_range"),
        ({"quantity": "0.00000000001"}, "quantity", "too_precise"),
        ({"price": "-1"}, "price", "out_of_range"),
        ({"price": "Infinity"}, "price", "bad_number"),
        ({"stop_price": []}, "stop_price", "bad_number"),
        ({"client_order_id": "a\nb"}, "client_order_id", "bad_client_order_id"),
        ({"leverage": "10"}, "leverage", "unexpected"),
    ],
)
def test_a_bad_field_is_named_with_its_code(
    change: dict[str, object], field: str, code: str
) -> None:
    with pytest.raises(FieldError) as caught:
        order_request({**BASE, **change})
    assert (caught.value.field, caught.value.code) == (field, code)


@pytest.mark.parametrize(
    ("kind", "placed", "ends"),
    [
        ("crypto", "2026-12-03T23:59:00+00:00", "2026-12-04T00:00:00+00:00"),
        ("stock", "2026-12-03T15:00:00+00:00", "2026-12-03T21:00:00+00:00"),  # 10:00 EST
        ("stock", "2026-12-03T21:30:00+00:00", "2026-12-04T21:00:00+00:00"),  # after close
        ("stock", "2026-12-04T22:00:00+00:00", "2026-12-07T21:00:00+00:00"),  # Fri night
        ("stock", "2026-07-01T14:00:00+00:00", "2026-07-01T20:00:00+00:00"),  # EDT
    ],
)
def test_day_orders_end_with_their_session(kind: str, placed: str, ends: str) -> None:
    end = session_end(kind, datetime.fromisoformat(placed))
    assert end == datetime.fromisoformat(ends) and end.tzinfo is not None
    assert end.astimezone(UTC) > datetime.fromisoformat(placed)
