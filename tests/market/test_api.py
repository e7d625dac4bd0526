"""The REST API: instruments, quotes, candles and tick ingest, with coded JSON errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from rest_framework.test import APIClient

from tests.conftest import embedded as embedded_runtime
from tests.factories import stored_quote, user_with_token
from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import DEFAULT_UNIVERSE
from tickstream.market.models import Candle, Instrument
from tickstream.market.pipeline import Pipeline
from tickstream.market.selectors import instrument_specs

pytestmark = pytest.mark.django_db


@pytest.fixture
def client() -> APIClient:
    return APIClient()


def _error(response: object, status: int, code: str) -> dict:
    assert response.status_code == status, response.content  # type: ignore[attr-defined]
    body = response.json()  # type: ignore[attr-defined]
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


def test_instruments_list_filter_and_search(client: APIClient, instruments: None) -> None:
    rows = client.get("/api/instruments/").json()
    assert len(rows) == len(DEFAULT_UNIVERSE)
    btc = next(r for r in rows if r["symbol"] == "BTC-USD")
    assert btc == {
        "symbol": "BTC-USD",
        "name": "Bitcoin",
        "kind": "crypto",
        "quote_currency": "USD",
        "tick_size": "0.01",
        "quantity_step": "0.00001",
        "active": True,
    }
    assert {r["kind"] for r in client.get("/api/instruments/?kind=crypto").json()} == {"crypto"}
    assert [r["symbol"] for r in client.get("/api/instruments/?q=apple").json()] == ["AAPL"]
    _error(client.get("/api/instruments/?kind=bond"), 400, "bad_kind")


def test_quotes_all_or_selected(client: APIClient, instruments: None) -> None:
    stored_quote("AAPL", "230.5", prev="228.50", volume=Decimal("1500.5"), trades=3, source="iex")
    stored_quote("MSFT", "418.2", volume=Decimal("1500.5"), trades=3)
    rows = client.get("/api/quotes/").json()
    assert [r["symbol"] for r in rows] == ["AAPL", "MSFT"]
    aapl = client.get("/api/quotes/?symbols=aapl").json()[0]
    assert (
        aapl["last"],
        aapl["prev_close"],
        aapl["change"],
        aapl["change_pct"],
        aapl["volume"],
    ) == ("230.50", "228.50", "2", "0.8753", "1500.5")  # prices at AAPL's tick of 0.01
    assert aapl["source"] == "iex"  # the feed of the last trade; its age is `time`
    error = _error(client.get("/api/quotes/?symbols=AAPL,NOPE,ZZZ"), 404, "unknown_symbol")
    assert error["details"] == {"symbols": ["NOPE", "ZZZ"]}


@pytest.fixture
def minutes(instruments: None) -> list[datetime]:
    aapl = Instrument.objects.get(symbol="AAPL")
    t0 = datetime(2026, 11, 20, 14, 30, tzinfo=UTC)
    starts = [t0 + timedelta(minutes=i) for i in range(12)]
    Candle.objects.bulk_create(
        [
            Candle(
                instrument=aapl,
                interval="1m",
                start=s,
                open=Decimal(100 + i),
                high=Decimal(101 + i),
                low=Decimal(99 + i),
                close=Decimal("100.5") + i,
                volume=Decimal(1000),
                trades=10,
                closed=i < 11,
            )
            for i, s in enumerate(starts)
        ]
    )
    return starts


def test_candles_newest_page_with_forming_last_then_older_pages(
    client: APIClient, minutes: list[datetime]
) -> None:
    page = client.get("/api/candles/?symbol=AAPL&interval=1m&limit=5").json()
    # Prices at AAPL's precision (tick 0.01), as on the websocket: one candle shape.
    assert [c["open"] for c in page["candles"]] == [
        "107.00",
        "108.00",
        "109.00",
        "110.00",
        "111.00",
    ]
    assert page["candles"][-1]["closed"] is False
    assert page["candles"][0] == {
        "interval": "1m",
        "time": "2026-11-20T14:37:00Z",
        "t": int(minutes[7].timestamp() * 1000),
        "open": "107.00",
        "high": "108.00",
        "low": "106.00",
        "close": "107.50",
        "volume": "1000",
        "trades": 10,
        "closed": True,
    }
    seen = [c["open"] for c in page["candles"]]
    while page["next"]:
        page = client.get(page["next"]).json()
        seen = [c["open"] for c in page["candles"]] + seen
    assert seen == [f"{100 + i}.00" for i in range(12)]


def test_candles_in_a_range(client: APIClient, minutes: list[datetime]) -> None:
    page = client.get(
        "/api/candles/",
        {
            "symbol": "AAPL",
            "interval": "1m",
            "start": minutes[2].isoformat(),
            "end": minutes[4].isoformat(),
        },
    ).json()
    assert [c["open"] for c in page["candles"]] == ["102.00", "103.00"]
    assert page["next"] is None
    by_epoch = client.get(
        "/api/candles/", {"symbol": "AAPL", "interval": "1m", "start": int(minutes[10].timestamp())}
    ).json()
    assert [c["open"] for c in by_epoch["candles"]] == ["110.00", "111.00"]


def test_candles_carry_indicator_values_warmed_up_on_older_candles(
    client: APIClient, minutes: list[datetime]
) -> None:
    page = client.get("/api/candles/?symbol=AAPL&interval=1m&limit=3&indicators=sma:3,ema:2").json()
    closes = [Decimal("100.5") + i for i in range(12)]
    # The first returned candle (index 9) already has its SMA: candles 7 and 8 came from the
    # warm-up, not from the page.
    assert [c["values"]["sma_3"] for c in page["candles"]] == [
        pytest.approx(float(sum(closes[i - 2 : i + 1]) / 3)) for i in (9, 10, 11)
    ]
    forming = page["candles"][-1]
    assert forming["closed"] is False and set(forming["values"]) == {"sma_3", "ema_2"}
    assert page["next"] is not None  # the warm-up candles are still older pages
    default = client.get("/api/candles/?symbol=AAPL&interval=1m&limit=2&indicators=default")
    assert "rsi_14" in default.json()["candles"][0]["values"]
    plain = client.get("/api/candles/?symbol=AAPL&interval=1m&limit=2").json()
    assert "values" not in plain["candles"][0]


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("interval=1m", 400, "missing_symbol"),
        ("symbol=NOPE&interval=1m", 404, "unknown_symbol"),
        ("symbol=AAPL", 400, "bad_interval"),
        ("symbol=AAPL&interval=7m", 400, "bad_interval"),
        ("symbol=AAPL&interval=30m", 400, "bad_interval"),
        ("symbol=AAPL&interval=1m&limit=0", 400, "bad_limit"),
        ("symbol=AAPL&interval=1m&limit=99999", 400, "bad_limit"),
        ("symbol=AAPL&interval=1m&limit=ten", 400, "bad_limit"),
        ("symbol=AAPL&interval=1m&start=yesterday", 400, "bad_range"),
        ("symbol=AAPL&interval=1m&start=2026-01-02T00:00:00", 400, "bad_range"),
        ("symbol=AAPL&interval=1m&start=2026-01-02T00:00Z&end=2026-01-01T00:00Z", 400, "bad_range"),
        ("symbol=AAPL&interval=1m&indicators=sma:abc", 400, "bad_indicators"),
        ("symbol=AAPL&interval=1m&indicators=sma:3,sma:3", 400, "bad_indicators"),
    ],
)
def test_candle_errors(
    client: APIClient, instruments: None, query: str, status: int, code: str
) -> None:
    _error(client.get(f"/api/candles/?{query}"), status, code)


@pytest.fixture
def publisher() -> APIClient:
    _, key = user_with_token(can_publish=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client


@pytest.fixture
def embedded(instruments: None) -> Iterator[Pipeline]:
    engine = MarketEngine(instrument_specs(), STANDARD_INTERVALS, parse_indicators("sma:3"))
    with embedded_runtime(Pipeline(engine)) as pipeline:
        yield pipeline


def test_ingest_accepts_good_ticks_and_rejects_bad_ones_one_by_one(
    publisher: APIClient, embedded: Pipeline
) -> None:
    now = datetime.now(UTC)
    body = {
        "ticks": [
            {
                "symbol": "AAPL",
                "price": "230.01",
                "size": 100,
                "ts": now.isoformat(),
                "trade_id": "a1",
            },
            {"symbol": "aapl", "price": 230.02, "size": "5", "trade_id": "a2"},
            {"symbol": "AAPL", "price": "-3", "size": "1"},
            {"symbol": "NOPE", "price": "1", "size": "1"},
            {"symbol": "AAPL", "price": "230.03", "size": "1", "trade_id": "a1"},
            {"symbol": "AAPL", "price": "abc"},
            {"symbol": "AAPL"},
            {"symbol": "AAPL", "price": "1", "colour": "red"},
            "not an object",
            {"symbol": "AAPL", "price": "230", "ts": (now - timedelta(hours=1)).isoformat()},
        ]
    }
    response = publisher.post("/api/ticks", body, format="json")
    assert response.status_code == 200, response.content
    result = response.json()
    assert result["accepted"] == 2
    assert [(r["index"], r["code"]) for r in result["rejected"]] == [
        (2, "bad_price"),
        (3, "unknown_symbol"),
        (4, "duplicate"),
        (5, "malformed_tick"),
        (6, "malformed_tick"),
        (7, "malformed_tick"),
        (8, "malformed_tick"),
        (9, "stale"),
    ]
    quote = embedded.engine.states["AAPL"].quote
    assert quote.last == Decimal("230.02") and quote.volume == Decimal("105")
    assert str(quote.last) == "230.02"  # the JSON number never became a float


def test_ingest_all_rejected_is_422(publisher: APIClient, embedded: Pipeline) -> None:
    response = publisher.post(
        "/api/ticks", {"ticks": [{"symbol": "X", "price": "1"}]}, format="json"
    )
    assert response.status_code == 422
    assert response.json()["rejected"][0]["code"] == "unknown_symbol"


def test_ingest_refuses_strangers_and_accounts_without_the_right(
    client: APIClient, instruments: None
) -> None:
    body = {"ticks": [{"symbol": "AAPL", "price": "1"}]}
    _error(client.post("/api/ticks", body, format="json"), 401, "not_authenticated")
    client.credentials(HTTP_AUTHORIZATION="Token nope")
    _error(client.post("/api/ticks", body, format="json"), 401, "authentication_failed")
    _, key = user_with_token()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    _error(client.post("/api/ticks", body, format="json"), 403, "permission_denied")


def test_ingest_body_errors(publisher: APIClient, embedded: Pipeline) -> None:
    _error(
        publisher.post("/api/ticks", "{broken", content_type="application/json"),
        400,
        "malformed_body",
    )
    _error(publisher.post("/api/ticks", {"ticks": []}, format="json"), 400, "malformed_body")
    _error(publisher.post("/api/ticks", [1, 2], format="json"), 400, "malformed_body")
    many = {"ticks": [{"symbol": "AAPL", "price": "1"}] * 1001}
    _error(publisher.post("/api/ticks", many, format="json"), 413, "batch_too_large")


def test_ingest_without_a_pipeline_is_503(publisher: APIClient, instruments: None) -> None:
    response = publisher.post(
        "/api/ticks", {"ticks": [{"symbol": "AAPL", "price": "1"}]}, format="json"
    )
    _error(response, 503, "pipeline_unavailable")


def test_openapi_schema_lists_the_endpoints(client: APIClient) -> None:
    response = client.get("/api/schema/", HTTP_ACCEPT="application/json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/instruments/", "/api/quotes/", "/api/candles/", "/api/ticks"):
        assert path in text
    assert client.get("/api/docs/").status_code == 200


def test_specs_from_the_database_carry_plain_decimals(instruments: None) -> None:
    """Prices are multiples of the tick size: its exponent is what they print with."""
    from tickstream.market.core.simulator import MarketSimulator

    specs = {s.symbol: s for s in instrument_specs()}
    assert str(specs["AAPL"].tick_size) == "0.01" and str(specs["DOGE-USD"].tick_size) == "0.00001"
    assert str(specs["AAPL"].quantity_step) == "1" and str(specs["SPY"].start_price) == "572.4"
    sim = MarketSimulator([specs["AAPL"], specs["BTC-USD"]], seed=3, rate=10, start_ns=0)
    for _ in range(50):
        trade = sim.next_trade()
        assert trade is not None
        assert len(str(trade.price).partition(".")[2]) == 2, trade.price


def test_a_deeply_nested_body_is_a_coded_400_not_a_500(
    publisher: APIClient, embedded: Pipeline
) -> None:
    body = "[" * 100_000 + "]" * 100_000
    response = publisher.post("/api/ticks", body, content_type="application/json")
    error = _error(response, 400, "malformed_body")
    assert "nested too deeply" in error["message"]


def test_a_body_over_the_upload_limit_is_a_coded_413(
    publisher: APIClient, embedded: Pipeline, settings: object
) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10_000  # type: ignore[attr-defined]
    ticks = [{"symbol": "AAPL", "price": "230.01", "size": "1"}] * 300
    response = publisher.post("/api/ticks", {"ticks": ticks}, format="json")
    _error(response, 413, "body_too_large")
    assert response["Content-Type"] == "application/json"


def test_unknown_api_paths_answer_coded_json(client: APIClient) -> None:
    response = client.get("/api/nothing-here/")
    _error(response, 404, "not_found")
    assert response["Content-Type"] == "application/json"
    assert client.get("/nothing-here/").status_code == 404  # pages keep Django's page


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("active=-160", "bad_active"),
        ("active=maybe", "bad_active"),
        ("kind=bond", "bad_kind"),
        ("q=" + "x" * 101, "bad_query"),
    ],
)
def test_instrument_query_parameters_are_validated(
    client: APIClient, instruments: None, query: str, code: str
) -> None:
    _error(client.get(f"/api/instruments/?{query}"), 400, code)


def test_instruments_filter_on_activity(client: APIClient, instruments: None) -> None:
    Instrument.objects.filter(symbol="KO").update(active=False)
    assert [r["symbol"] for r in client.get("/api/instruments/?active=false").json()] == ["KO"]
    assert len(client.get("/api/instruments/?active=true").json()) == len(DEFAULT_UNIVERSE) - 1


@pytest.mark.parametrize(
    ("tick", "code"),
    [
        ({"symbol": "KO", "price": "60", "size": "1e400"}, "size_out_of_range"),
        ({"symbol": "KO", "price": "1e400"}, "price_out_of_range"),
        ({"symbol": "KO", "price": "1e-30"}, "price_too_precise"),
        ({"symbol": "KO", "price": "1" * 100_000}, "malformed_tick"),
        ({"symbol": "KO", "price": "60", "size": "0.00000000001"}, "size_too_precise"),
        ({"symbol": "KO", "price": "60", "trade_id": ["a"]}, "malformed_tick"),
        ({"symbol": "KO", "price": "60", "trade_id": "a\u0000b"}, "malformed_tick"),
        ({"symbol": "KO", "price": "60", "ts": {"t": 1}}, "malformed_tick"),
        ({"symbol": "KO", "price": True}, "malformed_tick"),
        ({"symbol": "K" * 33, "price": "60"}, "malformed_tick"),
    ],
)
def test_ticks_beyond_the_bounds_are_refused_and_change_nothing(
    publisher: APIClient, embedded: Pipeline, tick: dict, code: str
) -> None:
    good = {"ticks": [{"symbol": "KO", "price": "60.5"}]}
    assert publisher.post("/api/ticks", good, format="json").json()["accepted"] == 1
    before = embedded.snapshot("KO")
    response = publisher.post("/api/ticks", {"ticks": [tick]}, format="json")
    assert response.status_code == 422, response.content
    assert [r["code"] for r in response.json()["rejected"]] == [code]
    assert embedded.snapshot("KO") == before
    good = {"ticks": [{"symbol": "KO", "price": "60.6"}]}
    assert publisher.post("/api/ticks", good, format="json").json()["accepted"] == 1


def test_the_schema_types_every_parameter_and_documents_the_errors(client: APIClient) -> None:
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    paths = schema["paths"]
    params = {p["name"]: p for p in paths["/api/candles/"]["get"]["parameters"]}
    assert params["interval"]["schema"]["enum"] == ["1s", "1m", "5m", "15m", "1h", "1d"]
    assert params["symbol"]["required"] is True
    assert params["limit"]["schema"]["maximum"] == 5000
    kinds = {p["name"]: p for p in paths["/api/instruments/"]["get"]["parameters"]}
    assert kinds["kind"]["schema"]["enum"] == ["stock", "crypto", "fx"]
    assert kinds["active"]["schema"]["type"] == "boolean"
    ingest = paths["/api/ticks"]["post"]
    assert {"200", "400", "401", "403", "413", "422", "429", "503"} <= set(ingest["responses"])
    tick = schema["components"]["schemas"]["PushedTick"]
    assert set(tick["properties"]) == {"symbol", "price", "size", "ts", "trade_id"}
    assert set(tick["required"]) == {"symbol", "price"}
    for path in ("/api/instruments/", "/api/quotes/", "/api/candles/"):
        assert "400" in paths[path]["get"]["responses"], path
    error = schema["components"]["schemas"]["ErrorBody"]
    assert set(error["required"]) == {"code", "message"}


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("1e400", "price_out_of_range"),  # a JSON number, read as a decimal, never a float
        ("1e-30", "price_too_precise"),
        ("Infinity", "malformed_tick"),
        ("NaN", "malformed_tick"),
        ("-0", "bad_price"),
    ],
)
def test_json_numbers_at_the_edge(
    publisher: APIClient, embedded: Pipeline, number: str, code: str
) -> None:
    body = '{"ticks": [{"symbol": "KO", "price": NUMBER}]}'.replace("NUMBER", number)
    response = publisher.post("/api/ticks", body, content_type="application/json")
    assert [r["code"] for r in response.json()["rejected"]] == [code]
