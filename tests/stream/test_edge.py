"""The websocket edge: who a socket is (token, session cookie, or anonymous), which sites
may open one, and which paths exist; each socket's consumer gets one scope."""

from __future__ import annotations

import asyncio
import json
import threading
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings
from django.test import Client

from tests.factories import UserFactory, user_with_token
from tests.stream.conftest import ORIGIN, Market
from tickstream.asgi import application

pytestmark = pytest.mark.django_db(transaction=True)


async def _welcome_user(path: str = "/ws/v1/", headers: list[tuple[bytes, bytes]] = ()) -> Any:
    ws = WebsocketCommunicator(application, path, headers=list(headers))
    connected, code = await ws.connect()
    assert connected, code
    welcome = json.loads(await ws.receive_from(timeout=2))
    await ws.disconnect()
    assert welcome["type"] == "welcome"
    return welcome["user"]


def _session_cookie(user: Any) -> tuple[bytes, bytes]:
    client = Client()
    client.force_login(user)
    key = client.cookies[settings.SESSION_COOKIE_NAME].value
    return (b"cookie", f"theme=dark; {settings.SESSION_COOKIE_NAME}={key}".encode())


async def test_a_socket_without_credentials_is_anonymous(market: Market) -> None:
    assert await _welcome_user(headers=[ORIGIN]) is None


async def test_a_token_in_the_header_or_the_query_names_the_user(market: Market) -> None:
    user, key = await database_sync_to_async(user_with_token)()
    assert await _welcome_user(headers=[(b"authorization", f"Token {key}".encode())]) == user.pk
    assert await _welcome_user(f"/ws/v1/?token={key}", [ORIGIN]) == user.pk


async def test_the_session_cookie_names_the_user_a_browser_logged_in_as(market: Market) -> None:
    user = await database_sync_to_async(UserFactory)()
    cookie = await database_sync_to_async(_session_cookie)(user)
    assert await _welcome_user(headers=[ORIGIN, cookie]) == user.pk
    # A wrong token does not hide the session's user.
    assert await _welcome_user("/ws/v1/?token=nope", [ORIGIN, cookie]) == user.pk


async def test_a_session_from_before_a_password_change_is_anonymous(market: Market) -> None:
    user = await database_sync_to_async(UserFactory)()
    cookie = await database_sync_to_async(_session_cookie)(user)

    def change_password() -> None:
        user.set_password("another one, long enough")
        user.save()

    await database_sync_to_async(change_password)()
    assert await _welcome_user(headers=[ORIGIN, cookie]) is None


async def test_an_unknown_session_or_token_is_anonymous(market: Market) -> None:
    stale = (b"cookie", f"{settings.SESSION_COOKIE_NAME}=no-such-session".encode())
    assert await _welcome_user("/ws/v1/?token=nope", [ORIGIN, stale]) is None


async def test_other_sites_are_refused_and_programs_without_an_origin_are_not(
    market: Market,
) -> None:
    ws = WebsocketCommunicator(
        application, "/ws/v1/", headers=[(b"origin", b"https://evil.example")]
    )
    connected, _ = await ws.connect()
    assert not connected
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=[(b"origin", b"http://[::1")])
    connected, _ = await ws.connect()
    assert not connected  # an origin that cannot be parsed is not an allowed one
    assert await _welcome_user(headers=[]) is None


async def test_an_unknown_path_is_refused_with_a_404_and_its_code(market: Market) -> None:
    """A wrong URL is the client's error: HTTP 404 with the API's JSON error where the
    server can answer a handshake so (uvicorn can), a plain refusal elsewhere; never an
    exception in the server."""
    from asgiref.testing import ApplicationCommunicator

    scope = {
        "type": "websocket",
        "path": "/ws/nothing-here/",
        "headers": [ORIGIN],
        "query_string": b"",
        "extensions": {"websocket.http.response": {}},
    }
    denied = ApplicationCommunicator(application, scope)
    await denied.send_input({"type": "websocket.connect"})
    start = await denied.receive_output(2)
    assert start["type"] == "websocket.http.response.start" and start["status"] == 404
    assert (b"content-type", b"application/json") in start["headers"]
    body = json.loads((await denied.receive_output(2))["body"])
    assert body["error"]["code"] == "unknown_path"
    assert "/ws/nothing-here/" in body["error"]["message"]
    await denied.wait(1)

    ws = WebsocketCommunicator(application, "/ws/nothing-here/", headers=[ORIGIN])
    connected, _ = await ws.connect()  # no such extension: refused all the same
    assert not connected


async def test_the_consumer_gets_the_route_in_its_scope(market: Market) -> None:
    from tickstream.stream.auth import WebsocketEdge
    from tickstream.stream.routing import websocket_urlpatterns

    seen: dict[str, Any] = {}
    edge = WebsocketEdge(websocket_urlpatterns)
    consumer = edge._route(
        seen := {"type": "websocket", "path": "/app/ws/stocks/", "root_path": "/app"}
    )
    assert type(consumer).__name__ == "StocksConsumer"
    assert seen["path_remaining"] == "" and seen["url_route"] == {"args": (), "kwargs": {}}


async def test_a_closing_socket_does_not_wait_for_the_thread_of_sync_code(market: Market) -> None:
    # Channels' own disconnect handler hops to the one thread of sync code to close stale
    # database connections: with that thread busy (here held; in life, 10,000 sockets
    # closing at once), every closing socket waited its turn with all its objects alive.
    ws = WebsocketCommunicator(application, "/ws/v1/", headers=[ORIGIN])
    connected, _ = await ws.connect()
    assert connected
    busy, done = threading.Event(), threading.Event()

    def hold() -> None:
        busy.set()
        done.wait(10)

    holder = asyncio.ensure_future(sync_to_async(hold)())
    assert await asyncio.to_thread(busy.wait, 5)
    try:
        # The consumer must end by itself; one still waiting after 2 s is cancelled.
        await ws.disconnect(timeout=2)
        assert ws.future.done() and not ws.future.cancelled()
    finally:
        done.set()
        await holder
