"""One grammar for every decimal that crosses the edge (tickstream/common/core/edge.py):
other notations Python's Decimal would read (`1_000`, `١٠٠`, `１００`, ` 100 `, `100\\n`) are
refused with the field's code on every endpoint that takes a number, never read as money."""

from __future__ import annotations

import re
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.conftest import embedded as embedded_runtime
from tests.factories import UserFactory, user_with_token
from tickstream.common.core import edge
from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.pipeline import Pipeline
from tickstream.market.selectors import instrument_specs

# Python's Decimal reads each of these, and none is a number here.
OTHER_NOTATIONS = [
    "1_000",
    "١٠٠",  # Arabic-Indic digits
    "１００",  # full-width digits
    "۱۰۰",  # Extended Arabic-Indic
    " 100 ",
    "100 ",
    "\t100",
    "+100",
    ".5",
    "5.",
    "NaN",
    "Infinity",
    "-Infinity",
    "sNaN",
]
NOT_EVEN_TO_PYTHON = ["1e", "1.2.3", "--1", ""]
GOOD = {"100": "100", "0.5": "0.5", "-2": "-2", "1.5e-7": "1.5E-7", "2E+3": "2E+3", "007": "7"}


@pytest.mark.parametrize("text", OTHER_NOTATIONS + NOT_EVEN_TO_PYTHON)
def test_other_notations_are_not_numbers(text: str) -> None:
    if text in OTHER_NOTATIONS:
        Decimal(text)  # what made them money before
    with pytest.raises(edge.NumberError):
        edge.parse_decimal(text)


@pytest.mark.parametrize(("text", "value"), GOOD.items())
def test_the_grammar_reads_exactly(text: str, value: str) -> None:
    assert edge.parse_decimal(text) == Decimal(value)


def test_values_and_bounds() -> None:
    assert edge.parse_decimal(Decimal("1.10")) == Decimal("1.10")
    assert edge.parse_decimal(12) == 12
    for bad in (True, 1.5, None, [1], Decimal("NaN"), 10**80, "1" * 65):
        with pytest.raises(edge.NumberError):
            edge.parse_decimal(bad)
    assert edge.parse_decimal(1.5, floats=True) == Decimal("1.5")  # a feed's JSON


@given(st.text(max_size=12))
def test_what_is_accepted_is_the_grammar_and_exactly_its_value(text: str) -> None:
    grammar = re.fullmatch(r"-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?", text, re.ASCII)
    try:
        value = edge.parse_decimal(text)
    except edge.NumberError:
        assert grammar is None
    else:
        assert grammar is not None and value == Decimal(text)


@given(st.decimals(allow_nan=False, allow_infinity=False, places=10))
def test_every_decimal_written_by_the_product_reads_back(value: Decimal) -> None:
    assert edge.parse_decimal(str(value)) == value
    assert edge.parse_decimal(format(value, "f")) == value


# --- through every endpoint that takes a number ---


@pytest.fixture
def api(instruments: None) -> APIClient:
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(UserFactory())
    return client


ORDER = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "1"}
ALERT = {"symbol": "AAPL", "condition": "above", "value": "1"}
BUY = {"kind": "buy", "symbol": "AAPL", "quantity": "1", "price": "1", "time": "2026-01-02"}


@pytest.mark.django_db
@pytest.mark.parametrize("text", ["1_000", "١٠٠", "１００", " 100 ", "+100", "NaN"])
@pytest.mark.parametrize(
    ("path", "body", "field", "code"),
    [
        ("/api/trading/deposits/", {}, "amount", "bad_number"),
        ("/api/trading/orders/", ORDER, "price", "bad_number"),
        ("/api/trading/orders/", ORDER, "quantity", "bad_number"),
        ("/api/alerts/", ALERT, "value", "bad_value"),
        ("/api/portfolios/{portfolio}/transactions/", BUY, "quantity", "bad_number"),
        ("/api/portfolios/{portfolio}/transactions/", BUY, "price", "bad_number"),
    ],
)
def test_an_endpoint_refuses_other_notations(
    api: APIClient, text: str, path: str, body: dict[str, Any], field: str, code: str
) -> None:
    portfolio = api.post("/api/portfolios/", {"name": "Main"}, format="json").json()["id"]
    if "deposits" not in path:
        api.post("/api/trading/deposits/", {"amount": "1000"}, format="json")
    response = api.post(path.format(portfolio=portfolio), {**body, field: text}, format="json")
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == code and field in str(error), error
    assert api.get(f"/api/portfolios/{portfolio}/transactions/").json() == []
    assert api.get("/api/alerts/").json() == []


@pytest.fixture
def embedded(instruments: None) -> Iterator[Pipeline]:
    engine = MarketEngine(instrument_specs(), STANDARD_INTERVALS, parse_indicators("sma:3"))
    with embedded_runtime(Pipeline(engine)) as pipeline:
        yield pipeline


@pytest.mark.django_db
def test_pushed_ticks_refuse_other_notations(embedded: Pipeline) -> None:
    _, key = user_with_token(can_publish=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    bad = ["1_000", "١٠٠", "１００", " 100 ", "+100"]
    ticks = [{"symbol": "AAPL", "price": p, "size": "1"} for p in bad]
    ticks += [{"symbol": "AAPL", "price": "100", "size": s} for s in ("1_0", " 1")]
    ticks.append({"symbol": "AAPL", "price": "230.5", "size": "1e1"})
    response = client.post("/api/ticks", {"ticks": ticks}, format="json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["accepted"] == 1
    assert [r["code"] for r in result["rejected"]] == ["malformed_tick"] * 7
    quote = embedded.engine.states["AAPL"].quote
    assert quote.last == Decimal("230.5") and quote.volume == 10
