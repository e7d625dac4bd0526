"""Writes of accounts: sign-up and API tokens."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.db import transaction
from rest_framework.authtoken.models import Token


@transaction.atomic
def token_rotate(*, user: Any) -> Token:
    """A new API token for `user`; the old one stops working at once."""
    Token.objects.filter(user=user).delete()
    return Token.objects.create(user=user)


def token_get_or_create(*, user: Any) -> Token:
    token, _ = Token.objects.get_or_create(user=user)
    return token


@transaction.atomic
def user_sign_up(*, username: str, password: str) -> Any:
    """A new user (the form has checked the name and the password's strength)."""
    return get_user_model().objects.create_user(username=username, password=password)
