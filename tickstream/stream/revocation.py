"""Revocation that reaches open sockets: a rotated API token, a logout or a password
change closes the websockets that signed in with what was revoked, in every web process.

Each socket remembers how it signed in (`scope["credential"]`, set by `auth.py`): a token
or a session, by a digest of the secret (never the secret itself, which would otherwise
travel through the broker). A revocation is a notice (`notices.notify`, sent when the
change commits) that every Hub listens for; the Hub closes the matching sockets of that
user with `CLOSE_SIGNED_OUT` (4401, `core/protocol.py`), which clients show as "signed
out" and do not retry.
Cost: O(this process's sockets) per revocation, which is a person's action.
"""

from __future__ import annotations

import hashlib
from typing import Any

from tickstream.stream.notices import notify

REVOCATIONS = "auth.revoked"

Credential = tuple[str, str]  # ("token" | "session", digest)


def digest(secret: str) -> str:
    """What a socket and a revocation say of a token or session key."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def revoke_token(*, user: Any, key: str) -> None:
    """The sockets that signed in with API token `key`."""
    notify(REVOCATIONS, {"type": "auth.revoke", "user": user.pk, "token": digest(key)})


def revoke_session(*, user: Any, session_key: str) -> None:
    """The sockets of one browser session (a logout)."""
    message = {"type": "auth.revoke", "user": user.pk, "session": digest(session_key)}
    notify(REVOCATIONS, message)


def revoke_sessions(*, user: Any) -> None:
    """The sockets of every browser session of `user` (a password change)."""
    notify(REVOCATIONS, {"type": "auth.revoke", "user": user.pk, "sessions": True})


def revoked(message: dict[str, Any], user_id: Any, credential: Credential | None) -> bool:
    """Whether a socket of `user_id` that signed in with `credential` is revoked."""
    if credential is None or user_id is None or message.get("user") != user_id:
        return False
    kind, secret = credential
    if kind == "token":
        return message.get("token") == secret
    return bool(message.get("sessions")) or message.get("session") == secret
