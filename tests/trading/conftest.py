"""A funded trader, and the venue: the matching hook started on the test's pipeline."""

from __future__ import annotations

from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.utils import timezone

from tests.factories import user_with_token
from tests.stream.conftest import Market, until
from tests.stream.conftest import market as market  # the live market, for these tests too
from tickstream.trading import services
from tickstream.trading.hook import MatchingHook
from tickstream.trading.models import Balance, Order


def funded(cash: str = "100000") -> tuple[Any, str, Any]:
    """A user with a token and a paper account holding `cash` USD."""
    user, key = user_with_token()
    account = services.account_get_or_create(user=user)
    services.transfer_make(account=account, amount=Decimal(cash))
    return user, key, account


def trading_client(cash: str) -> tuple[Any, Any]:
    """An API client of a user whose paper account holds `cash` USD, with an engine
    said to run: (client, account)."""
    from rest_framework.test import APIClient

    beat()
    user, _, account = funded(cash)
    api = APIClient(HTTP_HOST="127.0.0.1")
    api.force_authenticate(user)
    return api, account


def beat() -> None:
    """Say an engine runs (for tests of the API alone)."""
    services.engine_beat(name="test", started_at=timezone.now())


def place(user: Any, **fields: str) -> Order:
    return services.order_place_from(user=user, data=fields).order


def balances(account: Any) -> dict[str, tuple[Decimal, Decimal]]:
    return {
        b.currency: (b.available, b.reserved)
        for b in Balance.objects.filter(account=account)
        if b.available or b.reserved
    }


@pytest.fixture
async def venue(market: Market, settings: Any) -> AsyncIterator[MatchingHook]:
    settings.TRADING_POLL_S = 0.02
    hook = MatchingHook()
    await hook.start()
    market.pipeline.hooks.append(hook)
    yield hook
    await hook.stop()


async def resting(hook: MatchingHook, order: Order) -> None:
    """Wait until the engine holds the order."""
    await until(lambda: hook.engine is not None and order.pk in hook.engine.orders)


async def written(hook: MatchingHook, timeout: float = 5.0) -> None:
    """Wait until everything the engine did is in the database."""
    await until(
        lambda: hook._queue.empty() and not any(k.pending for k in hook.known.values()), timeout
    )


async def reload(order: Order) -> Order:
    return await database_sync_to_async(Order.objects.select_related("instrument").get)(pk=order.pk)
