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
