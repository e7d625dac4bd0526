"""Revocation reaches open sockets: a rotated API token, a logout and a password change
close the websockets that signed in with what was revoked (an `error` frame `signed_out`,
then close code 4401), and no other socket. Before, such a socket kept placing orders and
receiving `orders` after the token page said "the old one no longer works"."""

from __future__ import annotations

import json
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.test import Client

from tests.factories import UserFactory, user_with_token
from tests.stream.conftest import Market, connect, frames, request
from tickstream.accounts.services import token_rotate
from tickstream.stream.core.protocol import CLOSE_SIGNED_OUT
from tickstream.stream.revocation import revoked

pytestmark = pytest.mark.django_db(transaction=True)
PASSWORD = "first-password-42"


async def _signed_out(ws: WebsocketCommunicator) -> bool:
    """Whether the socket is told `signed_out` and closed with 4401 (within 2 s)."""
    told = False
    while True:
        output = await ws.receive_output(timeout=2)
        if output["type"] == "websocket.close":
            return told and output["code"] == CLOSE_SIGNED_OUT
        data = json.loads(output.get("text") or output.get("bytes") or "null")
        for m in data if isinstance(data, list) else [data]:
            told = told or (m.get("type") == "error" and m.get("code") == "signed_out")


async def _open(ws: WebsocketCommunicator) -> bool:
    """Whether the socket still answers a ping."""
    got = await request(ws, {"op": "ping", "id": 99})
    return any(m.get("type") == "pong" for m in got)


async def _session_socket(client: Client) -> WebsocketCommunicator:
    name = django_settings.SESSION_COOKIE_NAME
    cookie = f"{name}={client.cookies[name].value}"
    ws = await connect("/ws/v1/", headers=[(b"cookie", cookie.encode())])
    await frames(ws)
    return ws


async def _token_socket(key: str) -> WebsocketCommunicator:
    ws = await connect(f"/ws/v1/?token={key}")
    welcome = await frames(ws)
    assert welcome[0]["user"] is not None
    return ws


def _browser(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def _user() -> tuple[Any, str]:
    user, key = user_with_token()
    user.set_password(PASSWORD)
    user.save()
    return user, key


async def test_a_rotated_token_signs_out_its_sockets_only(market: Market) -> None:
    user, key = await sync_to_async(_user)()
    _, other_key = await sync_to_async(user_with_token)()
    by_token = await _token_socket(key)
    other = await _token_socket(other_key)
    browser = await _session_socket(await sync_to_async(_browser)(user))
    await request(by_token, {"op": "subscribe", "id": 1, "channels": ["orders"]})
    await sync_to_async(token_rotate)(user=user)
    assert await _signed_out(by_token)
    assert await _open(other) and await _open(browser)
    for ws in (other, browser):
        await ws.disconnect()


async def test_a_logout_signs_out_that_sessions_sockets(market: Market) -> None:
    user, key = await sync_to_async(_user)()
    one, two = await sync_to_async(_browser)(user), await sync_to_async(_browser)(user)
    first, second = await _session_socket(one), await _session_socket(two)
    program = await _token_socket(key)
    response = await sync_to_async(one.post)("/accounts/logout/")
    assert response.status_code == 302
    assert await _signed_out(first)
    assert await _open(second) and await _open(program)
    for ws in (second, program):
        await ws.disconnect()


@pytest.mark.parametrize("everywhere", [False, True])
async def test_a_password_change_signs_out_the_sessions_and_optionally_the_token(
    market: Market, everywhere: bool
) -> None:
    user, key = await sync_to_async(_user)()
    one, two = await sync_to_async(_browser)(user), await sync_to_async(_browser)(user)
    first, second = await _session_socket(one), await _session_socket(two)
    program = await _token_socket(key)
    stranger = await _session_socket(
        await sync_to_async(_browser)(await sync_to_async(_other_user)())
    )
    body = {
        "old_password": PASSWORD,
        "new_password1": "second-password-77",
        "new_password2": "second-password-77",
    }
    if everywhere:
        body["sign_out_everywhere"] = "on"
    response = await sync_to_async(one.post)("/accounts/password_change/", body)
    assert response.status_code == 302, response.content
    assert await _signed_out(first) and await _signed_out(second)
    if everywhere:
        assert await _signed_out(program)
        new = await sync_to_async(lambda: user.auth_token.__class__.objects.get(user=user).key)()
        assert new != key
    else:
        assert await _open(program)
        await program.disconnect()
    assert await _open(stranger)
    await stranger.disconnect()


def _other_user() -> Any:
    other = UserFactory()
    other.set_password(PASSWORD)
    other.save()
    return other


def test_the_rule_matches_only_what_was_revoked() -> None:
    token = {"type": "auth.revoke", "user": 7, "token": "t1"}
    assert revoked(token, 7, ("token", "t1"))
    assert not revoked(token, 7, ("token", "t2")) and not revoked(token, 8, ("token", "t1"))
    assert not revoked(token, 7, ("session", "t1"))
    everyone = {"type": "auth.revoke", "user": 7, "sessions": True}
    assert revoked(everyone, 7, ("session", "s9")) and not revoked(everyone, 7, ("token", "t1"))
    assert not revoked(everyone, None, None)
