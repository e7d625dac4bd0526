"""Two matching engines on the same orders, both given every trade, writing to
PostgreSQL over their own connections at the same time: each order is filled exactly as
far as one engine filled it and never twice, and every balance still adds up."""

from __future__ import annotations

from collections import defaultdict
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async
from django.db.models import Sum

from tests.stream.conftest import Market, until
from tests.trading.conftest import funded, place, written
from tickstream.trading import services
from tickstream.trading.hook import MatchingHook
from tickstream.trading.models import Balance, Fill, Order, Transfer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]
D = Decimal


def _orders(traders: int = 20, each: int = 5) -> list[Any]:
    orders = []
    for t in range(traders):
        user, _, _ = funded("50000")
        for k in range(each):
            price = str(50000 - 10 * (t * each + k))  # 50,000 down to 49,010
            orders.append(
                place(user, symbol="BTC-USD", side="buy", type="limit", quantity="0.01",
                      price=price)
            )  # fmt: skip
    return orders


def _conserved() -> list[str]:
    """available + reserved + fees = deposits - what fills spent, for every balance."""
    problems = []
    for b in Balance.objects.all():
        deposits = Transfer.objects.filter(account=b.account_id, currency=b.currency).aggregate(
            s=Sum("amount")
        )["s"] or D(0)
        fills = Fill.objects.filter(account=b.account_id)
        if b.currency == "USD":
            spent = sum((f.price * f.quantity for f in fills), D(0))
            expected = deposits - spent
        else:
            expected = sum((f.quantity for f in fills), D(0))
        if b.available + b.reserved + b.fees != expected or b.available < 0 or b.reserved < 0:
            problems.append(f"{b.account_id} {b.currency}: {b.available}+{b.reserved}+{b.fees}")
    for o in Order.objects.all():
        filled = Fill.objects.filter(order=o).aggregate(s=Sum("quantity"))["s"] or D(0)
        if filled != o.filled or o.filled > o.quantity:
            problems.append(f"order {o.pk}: {filled} in fills, {o.filled} of {o.quantity}")
    return problems


def _outcome() -> tuple[int, dict[tuple[int, str], int], set[str]]:
    per_trade: dict[tuple[int, str], int] = defaultdict(int)
    for order_id, trade in Fill.objects.values_list("order_id", "trade"):
        per_trade[(order_id, trade)] += 1
    statuses = set(Order.objects.values_list("status", flat=True))
    return Fill.objects.count(), per_trade, statuses


async def test_two_engines_never_fill_an_order_twice(market: Market, settings: Any) -> None:
    settings.TRADING_POLL_S = 0.02
    market.trade("BTC-USD", "50010")
    one, two = MatchingHook(), MatchingHook()
    for hook in (one, two):
        await hook.start()
        market.pipeline.hooks.append(hook)
    try:
        orders = await database_sync_to_async(_orders)()
        for hook in (one, two):
            await until(lambda h=hook: len(h.engine.orders) == len(orders))  # type: ignore[misc]
        # The price walks down through every limit in small trades: each order fills over
        # several of them (0.004 a trade), and a few owners cancel on the way.
        price = 50005
        for step in range(480):
            market.trade("BTC-USD", str(price), size="0.004")
            if step % 2:
                price -= 5
            if step in (100, 200):
                for order in orders[step // 10 : step // 10 + 3]:
                    try:
                        await database_sync_to_async(services.order_cancel)(order=order)
                    except services.TradingError:
                        pass  # filled already
        for hook in (one, two):
            await written(hook, timeout=60)
    finally:
        for hook in (one, two):
            await hook.stop()

    stored, per_trade, statuses = await database_sync_to_async(_outcome)()
    assert stored > len(orders)  # partial fills: every order filled over several trades
    assert one.fills + two.fills == stored  # every write that succeeded is one stored fill
    assert one.stale > 0 and two.stale > 0  # they raced: each lost some writes to the other
    assert set(per_trade.values()) == {1}  # no trade filled an order twice
    assert statuses <= {"filled", "cancelled"}
    assert await database_sync_to_async(_conserved)() == []
