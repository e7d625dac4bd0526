"""No control character gets past the edge, by one rule (tickstream/market/text.py): in a
JSON body, a query string, a form or a websocket frame it is a 400 (or an `error` frame)
with `bad_text`, on SQLite and on PostgreSQL (this file runs on both: a NUL there was a
503 `database_unavailable`, a fake outage, on nine endpoints)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tickstream.stream.core.protocol import ProtocolError, parse_request

pytestmark = pytest.mark.django_db
NUL, BELL, C1 = "\x00", "\x07", "\x85"


@pytest.fixture
def api(instruments: None) -> APIClient:
    client = APIClient(HTTP_HOST="127.0.0.1")
    client.force_authenticate(UserFactory())
    return client


def _refused(response: Any, field: str | None = None) -> None:
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["code"] == "bad_text", error
    if field is not None:
        assert error["details"]["field"] == field


@pytest.mark.parametrize("bad", [NUL, BELL, C1, "\n"])
@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("/api/portfolios/", {"name": "Main{}"}, "name"),
        ("/api/watchlists/", {"name": "List{}", "symbols": ["AAPL"]}, "name"),
        ("/api/watchlists/", {"name": "List", "symbols": ["AA{}PL"]}, "symbols[0]"),
        (
            "/api/alerts/",
            {"symbol": "AAPL", "condition": "above", "value": "1", "note": "n{}"},
            "note",
        ),  # fmt: skip
        (
            "/api/trading/orders/",
            {
                "symbol": "AAPL",
                "side": "buy",
                "type": "limit",
                "quantity": "1",
                "price": "1",
                "client_order_id": "c{}",
            },
            "client_order_id",
        ),  # fmt: skip
        ("/api/trading/deposits/", {"amount": "1{}"}, "amount"),
    ],
)
def test_a_control_character_in_a_json_field_is_bad_text(
    api: APIClient, bad: str, path: str, body: dict[str, Any], field: str
) -> None:
    filled = {
        k: (v.format(bad) if isinstance(v, str) else [s.format(bad) for s in v])
        if isinstance(v, str | list)
        else v
        for k, v in body.items()
    }
    _refused(api.post(path, filled, format="json"), field)


def test_the_token_endpoint_refuses_a_nul_for_anyone(instruments: None) -> None:
    client = APIClient(HTTP_HOST="127.0.0.1")
    body = {"username": f"demo{NUL}", "password": "x"}
    _refused(client.post("/api/auth/token/", body, format="json"), "username")


def test_a_key_with_a_control_character_is_bad_text(api: APIClient) -> None:
    _refused(api.post("/api/portfolios/", {f"na{NUL}me": "x"}, format="json"), f"na{NUL}me")


def test_a_file_keeps_its_line_ends_but_not_a_nul(api: APIClient) -> None:
    pid = api.post("/api/portfolios/", {"name": "Main"}, format="json").json()["id"]
    csv = "time,kind,symbol,quantity,price,fee,note\r\n2024-01-02,deposit,,1,,,\r\n"
    url = f"/api/portfolios/{pid}/import/"
    ok = api.post(url, {"csv": csv, "preview": True}, format="json")
    assert ok.status_code == 200, ok.json()
    _refused(api.post(url, {"csv": csv + NUL, "preview": True}, format="json"), "csv")


@pytest.mark.parametrize("query", ["?symbols=AAPL%00", "?symbols=AA%07PL", "?x=%C2%85"])
def test_a_control_character_in_a_query_is_bad_text(api: APIClient, query: str) -> None:
    _refused(api.get(f"/api/quotes/{query}"))


def test_a_control_character_in_a_form_is_refused(instruments: None) -> None:
    client = Client()
    login = client.post("/accounts/login/", {"username": f"demo{NUL}", "password": "x"})
    assert login.status_code == 400
    assert client.get("/accounts/login/?next=/%00").status_code == 400


@pytest.mark.parametrize(
    "frame",
    [
        '{"op": "subscribe", "id": 3, "channels": ["ticker:AAPL\\u0000"]}',
        '{"op": "order.place", "id": 3, "order": {"client_order_id": "a\\u0007"}}',
    ],
)
def test_a_control_character_in_a_websocket_frame_is_bad_text(frame: str) -> None:
    with pytest.raises(ProtocolError) as refused:
        parse_request(frame, frozenset({"order.place"}))
    assert refused.value.code == "bad_text" and refused.value.request_id == 3
