"""Writes of accounts: API tokens and the skeletons of names (sign-up is Django's user
form, `forms.SignUpForm`)."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from rest_framework.authtoken.models import Token

from tickstream.accounts.models import NameSkeleton
from tickstream.accounts.names import skeleton
from tickstream.stream.revocation import revoke_session, revoke_sessions, revoke_token


@transaction.atomic
def token_rotate(*, user: Any) -> Token:
    """A new API token for `user`; the old one stops working at once, on open websockets
    too (closed as signed out in every web process when this commits)."""
    for key in Token.objects.filter(user=user).values_list("key", flat=True):
        revoke_token(user=user, key=key)
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def on_logged_out(sender: Any, request: Any, user: Any, **_: Any) -> None:
    """`user_logged_out`: that browser session's sockets are signed out."""
    session_key = getattr(getattr(request, "session", None), "session_key", None)
    if user is not None and session_key:
        revoke_session(user=user, session_key=session_key)


@transaction.atomic
def password_changed(*, user: Any, everywhere: bool) -> None:
    """After a password change: every browser session's sockets are signed out (Django
    ends the other sessions themselves; the one that changed it goes on with a new key).
    `everywhere` also replaces the API token, signing out the programs that use it; an API
    token otherwise survives a password change (docs/configuration.md, Logins)."""
    revoke_sessions(user=user)
    if everywhere:
        token_rotate(user=user)


def token_get_or_create(*, user: Any) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


def name_claim(*, user: Any) -> bool:
    """Records the skeleton of `user`'s name; False when another user holds it (a name
    given in the admin may look like another's: it is allowed there, not at sign-up)."""
    shape = skeleton(user.get_username())
    NameSkeleton.objects.filter(user=user).exclude(skeleton=shape).delete()
    NameSkeleton.objects.bulk_create(
        [NameSkeleton(user=user, skeleton=shape)], ignore_conflicts=True
    )
    return NameSkeleton.objects.filter(user=user, skeleton=shape).exists()


def on_user_saved(sender: Any, instance: Any, update_fields: Any = None, **_: Any) -> None:
    """post_save of the user model: the name's skeleton follows the name."""
    if update_fields is not None and "username" not in update_fields:
        return  # a login's last_login, a password: the name did not change
    name_claim(user=instance)
