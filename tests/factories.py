"""Factories of the tests' users (factory_boy)."""

from __future__ import annotations

from typing import Any

import factory
from django.contrib.auth.models import Permission, User
from rest_framework.authtoken.models import Token


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.django.Password("a-good-password-1")

    @factory.post_generation
    def can_publish(self: User, create: bool, extracted: Any, **kwargs: Any) -> None:
        """`UserFactory(can_publish=True)`: may push ticks (market.publish_ticks)."""
        if create and extracted:
            self.user_permissions.add(Permission.objects.get(codename="publish_ticks"))


def user_with_token(**kwargs: Any) -> tuple[User, str]:
    """A user (UserFactory's arguments) and the key of their API token."""
    user = UserFactory(**kwargs)
    return user, Token.objects.create(user=user).key


def stored_quote(symbol: str, last: str, *, prev: str | None = None, **fields: Any) -> Any:
    """A stored session quote of an instrument at `last` (open, high and low too)."""
    from datetime import UTC, datetime
    from decimal import Decimal

    from tickstream.market.models import Instrument, Quote

    price = Decimal(last)
    values: dict[str, Any] = {
        "last": price,
        "open": price,
        "high": price,
        "low": price,
        "prev_close": None if prev is None else Decimal(prev),
        "volume": Decimal(5),
        "trades": 1,
        "time": datetime.now(UTC),
    }
    return Quote.objects.create(
        instrument=Instrument.objects.get(symbol=symbol), **{**values, **fields}
    )
