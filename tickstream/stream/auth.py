"""The websocket edge: a socket's origin, user and route, checked once before its consumer.

Browsers log in with the session cookie; programs send `Authorization: Token <key>`, or
`?token=<key>` where they cannot set headers. A valid token wins; an invalid one leaves the
session's user (anonymous if none).

This does in one step what Channels' stack of `OriginValidator`, `CookieMiddleware`,
`SessionMiddleware`, `AuthMiddleware` and `URLRouter` does in six: each of those keeps a
suspended coroutine and a copy of the scope for the whole life of every connection, and the
session layers keep a session store, lazy objects and a wrapped `send` besides (measured with
tracemalloc: 11.8 KB per idle connection above uvicorn's own, most of a tickstream
connection). Here a consumer gets one scope with the user resolved, and an anonymous socket
costs no session lookup at all.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from functools import cache
from importlib import import_module
from types import SimpleNamespace
from typing import Any
from urllib.parse import parse_qs, urlparse

from channels.db import database_sync_to_async
from channels.security.websocket import OriginValidator, WebsocketDenier
from django.http.cookie import parse_cookie
from django.urls import URLPattern

from tickstream.stream.revocation import Credential, digest


@database_sync_to_async
def _user_for(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


@database_sync_to_async
def _session_user(session_key: str) -> Any:
    """The user of a session, as Django's own `get_user` decides it for a request (the
    backend, the session hash and its fallbacks); anonymous when there is none."""
    from django.conf import settings
    from django.contrib.auth import get_user

    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)
    return get_user(SimpleNamespace(session=store))  # type: ignore[arg-type]


@cache
def _anonymous() -> Any:
    """One AnonymousUser for every anonymous socket (it holds no state of its own); made
    on first use, once Django's apps are ready."""
    from django.contrib.auth.models import AnonymousUser

    return AnonymousUser()


async def _not_found(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Refuse the handshake of a socket to a path with no endpoint: HTTP 404 with the API's
    JSON error where the server can send a response to a websocket handshake (uvicorn can),
    else the plain refusal (HTTP 403). A client's wrong URL is its error, not the server's."""
    if "websocket.http.response" not in scope.get("extensions", {}):
        await WebsocketDenier()(scope, receive, send)
        return
    await receive()  # websocket.connect
    message = f"no websocket endpoint at {scope['path'][:200]!r}"
    body = json.dumps({"error": {"code": "unknown_path", "message": message}}).encode()
    await send(
        {
            "type": "websocket.http.response.start",
            "status": 404,
            "headers": [(b"content-type", b"application/json")],
        }
    )
    await send({"type": "websocket.http.response.body", "body": body})


def _token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, key = value.decode("latin-1").partition(" ")
            if kind.lower() == "token" and key:
                return key.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("token")
    return values[0] if values else None


def _header(scope: dict[str, Any], wanted: bytes) -> str | None:
    """The first header of that name, as Channels' middlewares read it."""
    for name, value in scope.get("headers", ()):
        if name == wanted:
            return str(value.decode("latin-1"))
    return None


async def socket_user(key: str | None, cookie: str | None) -> tuple[Any, Credential | None]:
    """The user of a websocket with that token (`_token`) and cookie header: the token's,
    else the session's, else anonymous; with how it signed in (`revocation.py`)."""
    if key:
        user = await _user_for(key)
        if user is not None:
            return user, ("token", digest(key))
    if cookie:
        from django.conf import settings

        session_key = parse_cookie(cookie).get(settings.SESSION_COOKIE_NAME)
        if session_key:
            user = await _session_user(session_key)
            if user.is_authenticated:
                return user, ("session", digest(session_key))
            return user, None
    return _anonymous(), None


class BrowserOriginValidator(OriginValidator):
    """Refuse browsers from other sites (cross-site websocket hijacking); allow programs.

    Browsers always send `Origin`, so a missing header means a non-browser client, which
    carries no ambient cookies to abuse and authenticates with its token.
    """

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return bool(super().valid_origin(parsed_origin))


def allowed_origins() -> list[str]:
    """The hosts in ALLOWED_HOSTS, as Channels' AllowedHostsOriginValidator reads them."""
    from django.conf import settings

    allowed = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return allowed


class WebsocketEdge:
    """The ASGI application of every websocket: checks the origin, finds the route (Django
    URL patterns, matched as Channels' `URLRouter` matches them), resolves the user, then
    runs the route's consumer with the scope carrying `user`, `path_remaining` and
    `url_route`.

    It returns the consumer's coroutine rather than awaiting it where it can (an anonymous
    socket), so nothing of the edge stays alive beside a connection. As the application
    the server calls, it adds its keys to the scope the server made instead of copying it:
    the server reads none of them.
    """

    def __init__(self, routes: list[URLPattern], origins: list[str] | None = None) -> None:
        self.routes = routes
        self.origins = BrowserOriginValidator(
            None, allowed_origins() if origins is None else origins
        )

    def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Coroutine[Any, Any, Any]:
        if scope["type"] != "websocket":
            raise ValueError(f"the websocket edge got a {scope['type']!r} connection")
        if not self._origin_allowed(scope):
            return WebsocketDenier()(scope, receive, send)
        app = self._route(scope)
        if app is None:
            return _not_found(scope, receive, send)
        key, cookie = _token(scope), _header(scope, b"cookie")
        if key or cookie:
            return self._signed_in(app, key, cookie, scope, receive, send)
        scope["user"] = _anonymous()
        return app(scope, receive, send)

    async def _signed_in(
        self, app: Any, key: str | None, cookie: str | None, scope: dict[str, Any], *io: Any
    ) -> Any:
        scope["user"], scope["credential"] = await socket_user(key, cookie)
        return await app(scope, *io)

    def _origin_allowed(self, scope: dict[str, Any]) -> bool:
        origin = _header(scope, b"origin")
        try:
            parsed = None if origin is None else urlparse(origin)
        except ValueError:
            parsed = urlparse("")  # unparsable: matches no allowed origin
        return self.origins.valid_origin(parsed)

    def _route(self, scope: dict[str, Any]) -> Callable[..., Coroutine[Any, Any, Any]] | None:
        """The consumer of the socket's path (None: no endpoint there); sets
        `path_remaining` and `url_route`."""
        path = scope["path"]
        root_path = scope.get("root_path", "")
        if root_path and not path.startswith(root_path):
            return None
        path = path[len(root_path) :].lstrip("/")
        for route in self.routes:
            match = route.pattern.match(path)
            if match:
                remaining, args, kwargs = match
                scope["path_remaining"] = remaining
                scope["url_route"] = {"args": args, "kwargs": {**kwargs, **route.default_args}}
                app = route.callback
                consumer = getattr(app, "consumer_class", None)
                if consumer is None:
                    return app  # type: ignore[no-any-return]
                # `as_asgi()`: the consumer itself, without its wrapper's frame.
                return consumer(**app.consumer_initkwargs)  # type: ignore[no-any-return]
        return None
