"""A placement's cost against the size of the account's order history, in process.

    python bench/placement_history.py        (make bench-trading runs it)

The demo user's paper account on a fresh SQLite database, with 1,000, 10,000 and 50,000
filled orders behind it (today's bench leaves about 1,000): the median of 200 resting limit
orders placed through `services.order_place_from` at each size, against the same with no
history, in the same run. A placement counts the orders of the last second and the open
ones on their indexes, so its cost should not grow with the history.
"""

from __future__ import annotations

import contextlib
import io
import statistics
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

SIZES = (0, 1_000, 10_000, 50_000)


def main() -> None:
    from bench.common import django_in_process

    django_in_process(TRADING_ORDERS_PER_SECOND="1000000", TRADING_MAX_OPEN_ORDERS="1000000")
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db.models import Count, Q
    from django.utils import timezone

    from tickstream.market.models import Instrument
    from tickstream.trading import services
    from tickstream.trading.models import EngineBeat, Order
    from tickstream.trading.selectors import OPEN_STATUSES

    call_command("migrate", verbosity=0)
    with contextlib.redirect_stdout(io.StringIO()):
        call_command("setup_demo")
    user = User.objects.get(username="demo")
    account = services.account_get_or_create(user=user)
    services.transfer_make(account=account, amount=services.MAX_TRANSFER - 1)
    now = timezone.now()
    EngineBeat.objects.create(name="bench", started_at=now, seen_at=now + timedelta(hours=1))
    aapl = Instrument.objects.get(symbol="AAPL")
    body = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "1", "price": "1.00"}
    print("a resting limit order placed, by the account's history (median of 200, ms)\n")
    base = None
    history = 0
    for size in SIZES:
        old = now - timedelta(days=30)
        Order.objects.bulk_create(
            Order(
                account=account,
                instrument=aapl,
                side="buy",
                type="limit",
                quantity=1,
                price=1,
                status="filled",
                filled=1,
                held_currency="USD",
                created_at=old,
                updated_at=old,
            )  # fmt: skip
            for _ in range(size - history)
        )
        history = size
        # (`created_at` is set on insert: put the history a month back)
        Order.objects.filter(account=account).update(created_at=old, updated_at=old)
        Order.objects.filter(account=account, status="open").update(status="cancelled")
        for _ in range(20):  # warm up
            services.order_place_from(user=user, data=body)
        samples = []
        for _ in range(200):
            started = time.perf_counter()
            services.order_place_from(user=user, data=body)
            samples.append((time.perf_counter() - started) * 1000)
        median = statistics.median(samples)
        base = base or median
        # The limits' counts alone: as placed now (two, each on its index), and as before
        # (one aggregate over the account's orders), the baseline.
        since = timezone.now() - timedelta(seconds=1)
        now_ms = _timed(lambda since=since: (
            account.orders.filter(created_at__gt=since).count(),
            account.orders.filter(status__in=OPEN_STATUSES).count(),
        ))  # fmt: skip
        before_ms = _timed(lambda since=since: account.orders.aggregate(
            recent=Count("id", filter=Q(created_at__gt=since)),
            open=Count("id", filter=Q(status__in=OPEN_STATUSES)),
        ))  # fmt: skip
        print(
            f"  {size:>7,} orders behind   placement {median:5.2f} ms ({median / base:4.2f}x "
            f"none)   its counts {now_ms:6.3f} ms, the aggregate before {before_ms:7.3f} ms"
        )


def _timed(fn: Callable[[], object], n: int = 50) -> float:
    samples = []
    for _ in range(n):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


if __name__ == "__main__":
    main()
