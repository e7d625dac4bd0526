"""Property tests of the edge: any JSON value in any field of a pushed tick gives either an
accepted tick whose stored and published values are the input's exact decimal, or a
rejection with a code; never an exception, never a change of state on rejection."""

from __future__ import annotations

import itertools
import json
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from rest_framework.test import APIClient

from tests.conftest import embedded
from tests.factories import user_with_token
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.validation import RejectReason
from tickstream.market.models import Quote, Trade
from tickstream.market.pipeline import Pipeline
from tickstream.market.selectors import instrument_specs
from tickstream.market.upserts import BatchStore
from tickstream.market.writer import BatchWriter

# The store writes from its own thread, as the writer does, so it must see committed rows.
pytestmark = pytest.mark.django_db(transaction=True)

CODES = {r.value for r in RejectReason} | {"malformed_tick"}
_ids = itertools.count()


class Capture:
    """Stands in for the publisher: keeps what the pipeline would send."""

    def __init__(self) -> None:
        self.messages: list[dict[str, Any]] = []
        self.sent = self.dropped = self.failed = 0

    def offer(self, group: str, message: dict[str, Any]) -> None:
        self.messages.append(message)

    def backlog(self) -> int:
        return 0


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
    max_leaves=4,
)
numeric_text = st.from_regex(r"\A\s?[-+]?\d{1,18}(\.\d{1,14})?([eE][-+]?\d{1,4})?\s?\Z")
plausible = st.decimals(
    min_value=Decimal("0.0000000001"), max_value=Decimal("99999"), places=4
).map(str)
numbers = st.one_of(plausible, plausible, plausible, numeric_text, json_values)
valid_symbols = st.sampled_from(["KO", "ko", " AAPL ", "BTC-USD"])
symbols = st.one_of(valid_symbols, valid_symbols, valid_symbols, valid_symbols, json_values)


now_iso = st.builds(lambda: datetime.now(UTC).isoformat())
trade_ids = st.builds(lambda: f"p-{next(_ids)}")
# Ticks of a known symbol whose numbers are anything from plausible to absurd.
known_symbol_ticks = st.fixed_dictionaries(
    {"symbol": valid_symbols, "price": numbers},
    optional={
        "size": numbers,
        "ts": st.one_of(now_iso, json_values),
        "trade_id": st.one_of(trade_ids, json_values),
    },
)
# Anything at all in the fields, fields too many or too few.
any_ticks = st.one_of(
    st.dictionaries(
        st.sampled_from(["symbol", "price", "size", "ts", "trade_id"]), json_values, min_size=1
    ),
    st.tuples(known_symbol_ticks, st.text(min_size=1, max_size=5), json_values).map(
        lambda t: {**t[0], t[1]: t[2]}
    ),
    known_symbol_ticks.map(lambda t: {k: v for k, v in t.items() if k != "price"}),
    json_values,
)


def exact(value: Any) -> Decimal:
    """The decimal a JSON value means, as the API reads it (numbers never as floats)."""
    if isinstance(value, str):
        return Decimal(value.strip())
    if isinstance(value, float):
        return Decimal(repr(value))  # what json.dumps wrote
    return Decimal(value)


@pytest.fixture
def edge(instruments: None) -> Any:
    engine = MarketEngine(instrument_specs(), STANDARD_INTERVALS, [], max_delay_s=60)
    capture = Capture()
    store = BatchStore()
    writer = BatchWriter(store, store_ticks=True)
    thread = ThreadPoolExecutor(max_workers=1)
    pipeline = Pipeline(engine, publisher=capture, writer=writer)  # type: ignore[arg-type]
    _, key = user_with_token(can_publish=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    with embedded(pipeline):
        yield client, pipeline, capture, lambda batch: thread.submit(store, batch).result()
    thread.submit(store.close).result()
    thread.shutdown()


SETTINGS = settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@SETTINGS
@given(tick=known_symbol_ticks)
def test_a_tick_of_a_known_symbol_is_taken_exactly_or_refused_with_a_code(
    edge: Any, tick: dict[str, Any]
) -> None:
    check(edge, tick)


@SETTINGS
@given(tick=any_ticks)
def test_any_json_as_a_tick_is_refused_with_a_code_and_changes_nothing(
    edge: Any, tick: Any
) -> None:
    check(edge, tick)


def check(edge: Any, tick: Any) -> None:
    client, pipeline, capture, store = edge
    symbol = tick.get("symbol") if isinstance(tick, dict) else None
    symbol = symbol.strip().upper() if isinstance(symbol, str) else None
    before = pipeline.snapshot(symbol) if symbol else None
    published = len(capture.messages)

    body = json.dumps({"ticks": [tick]})
    response = client.post("/api/ticks", body, content_type="application/json")
    assert response.status_code in (200, 422), response.content
    result = response.json()
    if result["accepted"] == 0:
        [rejected] = result["rejected"]
        event(f"rejected: {rejected['code']}")
        assert rejected["index"] == 0 and rejected["code"] in CODES and rejected["message"]
        assert rejected["code"] != "internal_error"
        if symbol:
            assert pipeline.snapshot(symbol) == before  # nothing changed
        assert len(capture.messages) == published
        assert pipeline.writer.pending() == 0
        return

    assert result == {"accepted": 1, "rejected": []}
    event("accepted")
    price, size = exact(tick["price"]), exact(tick.get("size", "0"))
    message = capture.messages[-1]
    assert len(message["trades"]) == 1  # (no event loop here: each tick is sent at once)
    assert Decimal(message["trades"][0]["price"]) == price
    assert Decimal(message["trades"][0]["size"]) == size
    assert Decimal(message["quote"]["last"]) == price
    store(pipeline.writer.collect())  # what the writer would store now
    quote = Quote.objects.get(instrument__symbol=message["symbol"])
    assert quote.last == price
    if isinstance(tick.get("trade_id"), str):
        row = Trade.objects.get(trade_id=tick["trade_id"])
        assert (row.price, row.size) == (price, size)
