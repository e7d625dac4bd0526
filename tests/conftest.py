"""Shared fixtures."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from django.db import connection

from tickstream.market.core.instruments import DEFAULT_UNIVERSE, InstrumentKind, InstrumentSpec

FIXTURES = Path(__file__).parent / "fixtures"
# The columns the analyze command documents for
# sma:30,ema:30,rsi:14,macd:12:26:9,bbands:20:2,atr:14,wma:30,vwap (issue 2).
DOCUMENTED_COLUMNS = [
    "sma_30",
    "ema_30",
    "rsi_14",
    "macd_12_26_9",
    "macd_signal_12_26_9",
    "macd_hist_12_26_9",
    "bb_mid_20_2",
    "bb_upper_20_2",
    "bb_lower_20_2",
    "atr_14",
    "wma_30",
    "vwap",
]
SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def fixture_path(*parts: str) -> Path:
    return FIXTURES.joinpath(*parts)


def shared_data(*parts: str) -> Path:
    """A file of ../shared/data (GPL data sets are not copied into the project)."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} is absent (the optional GPL data sets live in ../shared/data)")
    return path


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    on_postgres = connection.vendor == "postgresql"
    skip = pytest.mark.skip(
        reason="needs PostgreSQL: set TEST_DATABASE_URL=postgres://... (make test does)"
    )
    for item in items:
        if "postgres" in item.keywords and not on_postgres:
            item.add_marker(skip)


@pytest.fixture
def spec() -> InstrumentSpec:
    return InstrumentSpec("TEST", "Test Corp", InstrumentKind.STOCK, start_price=Decimal("100"))


@pytest.fixture
def universe() -> tuple[InstrumentSpec, ...]:
    return DEFAULT_UNIVERSE


@pytest.fixture
def instruments(db: None) -> None:
    from tickstream.market.services import instruments_load

    instruments_load()


@pytest.fixture
def postgres_database() -> Iterator[str]:
    from tests.support import reachable

    if not reachable("127.0.0.1", 5432):
        pytest.skip("PostgreSQL is not running on 127.0.0.1:5432")
    import psycopg

    name = f"tickstream_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(_postgres_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    yield _postgres_url().rsplit("/", 1)[0] + "/" + name
    with psycopg.connect(_postgres_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _postgres_url() -> str:
    from tests.support import POSTGRES_URL

    return POSTGRES_URL


@contextmanager
def embedded(pipeline: Any, layer: Any = None) -> Iterator[Any]:
    """Run `pipeline` as this process's market runtime for the block (what `make run` has)."""
    from tickstream.market import runtime as market_runtime
    from tickstream.market.runtime import MarketRuntime

    market_runtime._current = MarketRuntime(pipeline, [], listen_ingest=False, layer=layer)
    try:
        yield pipeline
    finally:
        market_runtime._current = None
