"""Websocket authentication by API token, beside the session (AuthMiddlewareStack).

Programs send `Authorization: Token <key>`; browsers, which cannot set headers on a
websocket, may pass `?token=<key>`. A valid token sets `scope["user"]`; an invalid one
leaves the session's user (anonymous if none).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from channels.db import database_sync_to_async
from channels.middleware import BaseMiddleware
from channels.security.websocket import OriginValidator


@database_sync_to_async
def _user_for(key: str) -> Any:
    from rest_framework.authtoken.models import Token

    token = Token.objects.select_related("user").filter(key=key).first()
    if token is None or not token.user.is_active:
        return None
    return token.user


def _token(scope: dict[str, Any]) -> str | None:
    for name, value in scope.get("headers", ()):
        if name == b"authorization":
            kind, _, key = value.decode("latin-1").partition(" ")
            if kind.lower() == "token" and key:
                return key.strip()
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("token")
    return values[0] if values else None


class TokenAuthMiddleware(BaseMiddleware):
    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        key = _token(scope)
        if key:
            user = await _user_for(key)
            if user is not None:
                scope = {**scope, "user": user}
        return await super().__call__(scope, receive, send)


class BrowserOriginValidator(OriginValidator):
    """Refuse browsers from other sites (cross-site websocket hijacking); allow programs.

    Browsers always send `Origin`, so a missing header means a non-browser client, which
    carries no ambient cookies to abuse and authenticates with its token.
    """

    def valid_origin(self, parsed_origin: Any) -> bool:
        if parsed_origin is None:
            return True
        return bool(super().valid_origin(parsed_origin))


def origin_checked(application: Any) -> BrowserOriginValidator:
    """Accept the hosts in ALLOWED_HOSTS, as Channels' AllowedHostsOriginValidator does."""
    from django.conf import settings

    allowed = settings.ALLOWED_HOSTS
    if settings.DEBUG and not allowed:
        allowed = ["localhost", "127.0.0.1", "[::1]"]
    return BrowserOriginValidator(application, allowed)
