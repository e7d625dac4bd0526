"""Writes of accounts: API tokens (sign-up is Django's user form)."""

from __future__ import annotations

from typing import Any

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
