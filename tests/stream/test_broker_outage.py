"""A broker (Redis) outage: clients get coded answers, never silence or an HTML 500."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from rest_framework.test import APIClient

from tests.factories import user_with_token
from tests.stream.conftest import connect, frames, request
from tests.support import free_port
from tickstream.stream.hub import stop_hub


@pytest.fixture
def dead_redis(settings: object) -> Iterator[str]:
    """The Redis channel layer, pointed at a port where nothing listens."""
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings.CHANNEL_LAYERS = {  # type: ignore[attr-defined]
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [url]},
        }
    }
    yield url


@pytest.mark.django_db(transaction=True)
async def test_a_subscribe_during_an_outage_is_answered_unavailable(
    dead_redis: str, instruments: None
) -> None:
    ws = await connect()
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 7, "channels": ["ticker:AAPL"]}, timeout=8)
    assert [(m["type"], m.get("code"), m.get("id")) for m in got] == [("error", "unavailable", 7)]
    await ws.disconnect()
    await stop_hub()


@pytest.mark.django_db
def test_ingest_to_a_feed_process_during_an_outage_is_503(
    dead_redis: str, instruments: None, settings: object
) -> None:
    settings.FEEDS_MODE = "external"  # type: ignore[attr-defined]
    _, key = user_with_token(can_publish=True)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    response = client.post(
        "/api/ticks", {"ticks": [{"symbol": "AAPL", "price": "230"}]}, format="json"
    )
    assert response.status_code == 503, response.content
    assert response["Content-Type"] == "application/json"
    assert json.loads(response.content)["error"]["code"] == "pipeline_unavailable"
