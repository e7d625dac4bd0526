"""One shape per concept: the schema documents exactly the fields each app's output
writer sends (`common/shapes.py`), so the two cannot drift."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from tickstream.alerts import shapes as alerts
from tickstream.common.shapes import Out, Shape
from tickstream.portfolio import shapes as portfolio
from tickstream.trading import shapes as trading

SHAPES = [
    trading.ORDER,
    trading.FILL,
    trading.BALANCE,
    alerts.ALERT,
    alerts.FIRING,
    alerts.WATCHLIST,
    portfolio.PORTFOLIO,
    portfolio.TRANSACTION,
    portfolio.RECORD,
]


@pytest.mark.django_db
def test_the_schema_has_exactly_the_fields_each_shape_writes() -> None:
    schema = APIClient().get("/api/schema/", HTTP_ACCEPT="application/json").json()
    components = schema["components"]["schemas"]
    for shape in SHAPES:
        documented = components[shape.name]["properties"]
        assert list(documented) == list(shape.fields), shape.name
        for name, out in shape.fields.items():
            assert documented[name].get("readOnly") is True, (shape.name, name)
            assert documented[name].get("nullable", False) is out.null, (shape.name, name)


def test_a_shape_writes_its_fields_in_order_and_types_its_lists() -> None:
    inner = Shape("Inner", {"n": Out(lambda x: x, "int")})
    outer = Shape(
        "Outer",
        {
            "b": Out(lambda o: o["b"], "bool"),
            "a": Out(lambda o: [inner.dump(i) for i in o["a"]], items=inner),
            "t": Out(lambda o: o["t"], "texts"),
        },
    )
    assert outer.dump({"a": [1, 2], "b": True, "t": ["x"]}) == {
        "b": True,
        "a": [{"n": 1}, {"n": 2}],
        "t": ["x"],
    }
    fields = outer.serializer().fields
    assert list(fields) == ["b", "a", "t"] and all(f.read_only for f in fields.values())


def test_an_order_is_documented_with_the_fields_the_core_reads() -> None:
    from tickstream.trading.api import OrderRequestSerializer
    from tickstream.trading.core.requests import FIELDS

    assert set(OrderRequestSerializer().fields) == FIELDS
