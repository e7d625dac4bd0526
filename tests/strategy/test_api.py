"""The strategies API and pages: hosted strategies registered with checked parameters,
started and stopped by their owner only; stored runs as JSON, CSV and a report page."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.strategy.test_backtest import CASH, _run, _ticks
from tickstream.strategy import services
from tickstream.strategy.models import Mode

pytestmark = pytest.mark.django_db


def client(user: Any) -> APIClient:
    api = APIClient(HTTP_HOST="127.0.0.1")
    api.force_authenticate(user)
    return api


def test_a_hosted_strategy_is_registered_started_stopped_and_removed(instruments: None) -> None:
    owner, other = UserFactory(), UserFactory()
    api = client(owner)
    sources = {s["name"] for s in api.get("/api/strategies/sources/").json()}
    assert {"sma_crossover", "rsi_reversion", "market_maker"} <= sources
    body = {"name": "cross", "source": "sma_crossover", "symbol": "aapl",
            "params": {"fast": 5, "slow": "20"}}  # fmt: skip
    made = api.post("/api/strategies/hosted/", body, format="json")
    assert made.status_code == 201, made.json()
    hosted = made.json()
    assert hosted["symbol"] == "AAPL" and hosted["state"] == "stopped" and not hosted["wanted"]
    assert api.post("/api/strategies/hosted/", body, format="json").status_code == 409
    started = api.post(f"/api/strategies/hosted/{hosted['id']}/start/")
    assert started.status_code == 200 and started.json()["wanted"]
    refused = api.delete(f"/api/strategies/hosted/{hosted['id']}/")
    assert refused.status_code == 409 and refused.json()["error"]["code"] == "running"
    # Another user sees nothing of it.
    assert client(other).post(f"/api/strategies/hosted/{hosted['id']}/stop/").status_code == 404
    assert client(other).get("/api/strategies/hosted/").json() == []
    api.post(f"/api/strategies/hosted/{hosted['id']}/stop/")
    assert api.delete(f"/api/strategies/hosted/{hosted['id']}/").status_code == 204


@pytest.mark.parametrize(
    ("change", "code", "field"),
    [
        ({"source": "../../etc/passwd"}, "unknown_source", "source"),
        ({"symbol": "NOPE"}, "unknown_instrument", "symbol"),
        ({"params": {"fast": 30, "slow": 10}}, "bad_params", "params"),
        ({"params": {"nothing": 1}}, "bad_params", "params"),
        ({"params": {"symbol": "MSFT"}}, "bad_params", "params"),
        ({"params": [1]}, "bad_params", "params"),
        ({"params": {"fast": {"x": 1}}}, "bad_params", "params"),
        ({"interval": "7m"}, "bad_interval", "interval"),
        ({"name": ""}, "bad_name", "name"),
    ],
)
def test_what_a_hosted_strategy_is_registered_with_is_checked(
    instruments: None, change: dict[str, Any], code: str, field: str
) -> None:
    body = {"name": "x", "source": "sma_crossover", "symbol": "AAPL", **change}
    answer = client(UserFactory()).post("/api/strategies/hosted/", body, format="json")
    assert answer.status_code == 400, answer.json()
    error = answer.json()["error"]
    assert error["code"] == code and error["details"]["field"] == field


def _stored(owner: Any) -> Any:
    result, _ = _run(_ticks())
    record = services.RunRecord(
        mode=Mode.BACKTEST, strategy="SmaCrossover", source="sma_crossover.py", symbol="AAPL",
        currency="USD", cash=CASH, data="aapl.csv", fills=result.fills, equity=result.equity,
        prices=[(ns, Decimal(1)) for ns, _ in result.equity], trades=result.trades,
        first_ns=result.first_ns, last_ns=result.last_ns, checksum="0" * 64,
    )  # fmt: skip
    return services.run_store(record, owner=owner)


def test_a_stored_run_is_read_as_json_csv_and_a_report_page() -> None:
    owner = UserFactory()
    run = _stored(owner)
    api = client(owner)
    data = api.get(f"/api/strategies/runs/{run.pk}/").json()
    assert data["figures"]["fills"] == len(data["fills"]) >= 20
    assert data["figures"]["sharpe"] is not None and data["data_from"].startswith("2004")
    assert [r["id"] for r in api.get("/api/strategies/runs/").json()] == [run.pk]
    csv_text = api.get(f"/api/strategies/runs/{run.pk}/fills.csv").content.decode()
    assert csv_text.splitlines()[0] == "time,order,symbol,side,price,quantity,fee,liquidity"
    assert len(csv_text.splitlines()) == len(data["fills"]) + 1
    assert client(UserFactory()).get(f"/api/strategies/runs/{run.pk}/").status_code == 404
    from django.test import Client

    page = Client()
    page.force_login(owner)
    html = page.get(f"/strategies/runs/{run.pk}/").content.decode()
    assert "Sharpe" in html and "run-chart" in html and data["fills"][0]["price"] in html
    assert page.get("/strategies/").status_code == 200
    other = Client()
    other.force_login(UserFactory())
    assert other.get(f"/strategies/runs/{run.pk}/").status_code == 404


def test_a_run_stored_from_the_command_line_is_shown_to_staff_only() -> None:
    run = _stored(None)
    assert client(UserFactory()).get(f"/api/strategies/runs/{run.pk}/").status_code == 404
    staff = client(UserFactory(is_staff=True))
    assert staff.get(f"/api/strategies/runs/{run.pk}/").status_code == 200


def test_a_figure_that_cannot_be_computed_shows_as_a_dash_on_the_page() -> None:
    owner = UserFactory()
    record = services.RunRecord(
        mode=Mode.BACKTEST, strategy="S", source="s.py", symbol="AAPL", currency="USD",
        cash=Decimal(1000), data="d",
    )  # fmt: skip
    run = services.run_store(record, owner=owner)
    from django.test import Client

    page = Client()
    page.force_login(owner)
    html = page.get(f"/strategies/runs/{run.pk}/").content.decode()
    assert 'data-figure="Sharpe">—<' in html and 'data-figure="Win rate">—<' in html


def test_a_run_made_elsewhere_is_stored_with_figures_computed_here(instruments: None) -> None:
    from tickstream.strategy.record import record_json

    result, _ = _run(_ticks())
    record = services.RunRecord(
        mode="paper", strategy="SmaCrossover", source="sma.py", symbol="AAPL",
        currency="USD", cash=CASH, data="ws://x", fills=result.fills, equity=result.equity,
        trades=result.trades, first_ns=result.first_ns, last_ns=result.last_ns,
    )  # fmt: skip
    body = record_json(record)
    owner = UserFactory()
    api = client(owner)
    made = api.post("/api/strategies/runs/", body, format="json")
    assert made.status_code == 201, made.json()
    run = api.get(f"/api/strategies/runs/{made.json()['id']}/").json()
    assert run["mode"] == "paper" and len(run["fills"]) == len(result.fills)
    expected = services.figures_json(services.record_figures(record))
    assert run["figures"] == expected  # not what the client said: computed from its data
    for change, field in [
        ({"mode": "hosted"}, "mode"),
        ({"symbol": "NOPE"}, "symbol"),
        ({"cash": "-1"}, "cash"),
        ({"fills": [{"ns": "1", "side": "up"}]}, "fills[0]"),
        ({"fills": [{**body["fills"][0], "price": "0"}]}, "fills[0]"),
        ({"equity": [["x", "1"]]}, "equity[0]"),
        ({"equity": [["1"]]}, "equity[0]"),
        ({"checksum": "zz"}, "checksum"),
        ({"trades": -1}, "trades"),
        ({"params": {"a": "x" * 5000}}, "params"),
    ]:
        answer = api.post("/api/strategies/runs/", {**body, **change}, format="json")
        assert answer.status_code == 400, (change, answer.json())
        error = answer.json()["error"]
        assert error["code"] == "bad_run" and error["details"]["field"] == field, error
