"""A schema-driven fuzz of the REST API (schemathesis): cases generated from the OpenAPI
schema, valid and not, must never get a 5xx, and every response must match the schema
(status code documented, body of the documented shape). The schema types the tick objects,
so the fuzzer reaches tick validation through the embedded pipeline."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import ignored_auth, positive_data_acceptance

from tests.conftest import embedded
from tests.factories import user_with_token
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.pipeline import Pipeline
from tickstream.market.selectors import instrument_specs

schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", get_wsgi_application())


@pytest.fixture
def token(instruments: None) -> Iterator[str]:
    engine = MarketEngine(instrument_specs(), STANDARD_INTERVALS, [], max_delay_s=60)
    with embedded(Pipeline(engine)):
        yield user_with_token(can_publish=True)[1]


@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_answers_every_generated_request_as_documented(case: Any, token: str) -> None:
    case.call_and_validate(
        headers={"Authorization": f"Token {token}"},
        # A request of the schema's shape may still be refused for what it means (an
        # indicator listed twice, `start` after `end`): a documented 400 with its code.
        # Every case carries a valid token, so a request "without auth" is still signed in;
        # who may read what is proven by tests/portfolio/test_authz.py instead.
        excluded_checks=[positive_data_acceptance, ignored_auth],
    )
