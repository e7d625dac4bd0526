"""decimal.js, the pages' exact arithmetic for live portfolio marks, against Python's
decimal on the same figures: money half to even at cents, and marks applied to a
valuation equal to the server's own figures."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import orjson

from tests.portfolio.conftest import apply_marks
from tests.web.conftest import NEEDS_CHROMIUM
from tickstream.portfolio.core.valuation import Basis, Position, Rate, Valuation, money

pytestmark = NEEDS_CHROMIUM

CASES = [
    ("12.345", "3"),
    ("0.00001", "67250.125"),
    ("-2.675", "1"),
    ("2.665", "1"),
    ("-0.004", "1"),
    ("123456789.123456789", "0.5"),
    ("0.1", "0.2"),
    ("1.005", "1"),
]


def test_products_round_like_the_server(server: str, page: Any) -> None:
    page.goto(f"{server}/accounts/login/")
    got = page.evaluate(
        """async (cases) => {
            const d = await import('/static/tickstream/decimal.js');
            return cases.map(([a, b]) => d.cents(d.mul(d.parse(a), d.parse(b))));
        }""",
        CASES,
    )
    assert got == [money(Decimal(a) * Decimal(b)) for a, b in CASES]


def _sent(data: Any) -> Any:
    """A live update as it goes on the wire (its prices may be pre-encoded JSON)."""
    return orjson.loads(orjson.dumps(data))


def _applied_in_page(server: str, page: Any, whole: Any, marks: Any) -> Any:
    """What the page's `applyMarks` makes of a valuation and marks, as sent (JSON)."""
    page.goto(f"{server}/accounts/login/")
    return page.evaluate(
        """async ([whole, marks]) => {
            const d = await import('/static/tickstream/decimal.js');
            return d.applyMarks(whole, marks);
        }""",
        json.loads(json.dumps([whole, marks])),
    )


def test_marks_applied_in_the_page_equal_the_servers(server: str, page: Any) -> None:
    basis = Basis(
        (
            Position("AAPL", Decimal("7"), Decimal("1401.015")),
            Position("BTC-USD", Decimal("0.125"), Decimal("8000")),
        ),
        cash=Decimal("10"),
    )
    live = Valuation(basis, header={"id": 1})
    live.mark_quotes({"AAPL": {"last": "201.00", "prev_close": "199.50"}})
    whole = live.data()
    live.mark_quotes(
        {
            "AAPL": {"last": "203.37", "prev_close": "199.50"},
            "BTC-USD": {"last": "67250.01", "open": "66000.00"},
        }
    )
    marks = _sent(live.update())
    in_page = _applied_in_page(server, page, whole, marks)
    expected = apply_marks(whole, marks)
    assert in_page == expected
    assert in_page["holdings"] == live.data()["holdings"]


def test_marks_in_another_currency_applied_in_the_page_equal_the_servers(
    server: str, page: Any
) -> None:
    """A euro holding and euro cash in a dollar portfolio: the page's figures from the
    update's prices and rates are the server's to the cent."""
    basis = Basis(
        (
            Position("AAPL", Decimal("7"), Decimal("1401.015")),
            Position("SAP.DE", Decimal("6"), Decimal("1323.3"), "EUR", Decimal("1203")),
        ),
        cash=Decimal("10"),
        foreign=(("EUR", Decimal("878")),),
    )
    live = Valuation(
        basis, header={"id": 1}, rates=[Rate("EUR", Decimal("1.1"), (("EUR-USD", 1),))]
    )
    live.mark_quotes({"SAP.DE": {"last": "240.00", "prev_close": "238.00"}})
    whole = live.data()
    live.mark_quotes(
        {
            "AAPL": {"last": "203.37", "prev_close": "199.50"},
            "SAP.DE": {"last": "250.05", "prev_close": "238.00"},
            "EUR-USD": {"last": "1.25013", "prev_close": "1.24"},
        }
    )
    marks = _sent(live.update())
    in_page = _applied_in_page(server, page, whole, marks)
    assert in_page == apply_marks(whole, marks)
    assert in_page["holdings"] == live.data()["holdings"]
    assert in_page["totals"] == live.data()["totals"]
