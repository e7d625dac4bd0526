"""Development mode: the demo user's sample portfolio, watchlist and alerts, so a new user
sees a working tracker at once. Production mode creates nothing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from tickstream.alerts.services import alert_create, watchlist_create
from tickstream.market.models import Instrument
from tickstream.portfolio.core.records import record
from tickstream.portfolio.models import Portfolio
from tickstream.portfolio.services import portfolio_create, transactions_import

DEMO_USER = "demo"
WATCHLIST = ["AAPL", "MSFT", "NVDA", "AMZN", "SPY", "BTC-USD", "ETH-USD", "SOL-USD"]

# Days ago, kind, symbol, quantity, price as a share of the instrument's reference price
# (the simulated market starts there), fee, note.
SAMPLE: list[tuple[int, str, str, str, str, str, str]] = [
    (1100, "deposit", "", "60000", "", "0", "opening deposit"),
    (1095, "buy", "AAPL", "40", "0.66", "1", ""),
    (1090, "buy", "MSFT", "15", "0.62", "1", ""),
    (1060, "buy", "NVDA", "20", "0.17", "1", "before the 10:1 split"),
    (980, "buy", "BTC-USD", "0.25", "0.34", "5", ""),
    (900, "dividend", "AAPL", "9.60", "", "0", "quarterly dividend"),
    (820, "buy", "SPY", "20", "0.72", "1", ""),
    (760, "buy", "AAPL", "10", "0.79", "1", ""),
    (700, "buy", "ETH-USD", "3", "0.68", "4", ""),
    (640, "dividend", "MSFT", "11.25", "", "0", "quarterly dividend"),
    (550, "split", "NVDA", "10", "", "0", "10:1 split"),
    (520, "sell", "AAPL", "15", "0.85", "1", "trim"),
    (430, "buy", "AMZN", "25", "0.78", "1", ""),
    (300, "sell", "NVDA", "60", "0.81", "1", "take profit"),
    (240, "buy", "SOL-USD", "40", "0.95", "3", ""),
    (150, "fee", "", "25", "", "0", "account fee"),
    (60, "buy", "MSFT", "5", "0.97", "1", ""),
    (20, "dividend", "SPY", "32.40", "", "0", "quarterly dividend"),
]


class Command(BaseCommand):
    help = "Development mode: the demo user's sample portfolio, watchlist and two alerts."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEVELOPMENT:
            raise CommandError("setup_demo_data only runs with TICKSTREAM_DEVELOPMENT=true")
        user = get_user_model().objects.filter(username=DEMO_USER).first()
        if user is None:
            raise CommandError("run setup_demo first (it creates the demo user)")
        if Portfolio.objects.filter(owner=user).exists():
            self.stdout.write("demo portfolio: present")
            return
        with transaction.atomic():
            self._create(user)
        self.stdout.write("demo portfolio, watchlist and alerts: created")

    def _create(self, user: Any) -> None:
        prices = dict(Instrument.objects.values_list("symbol", "reference_price"))
        now = datetime.now(UTC).replace(hour=15, minute=30, second=0, microsecond=0)
        records = []
        for days, kind, symbol, quantity, share, fee, note in SAMPLE:
            price = ""
            if share:
                price = str((prices[symbol] * Decimal(share)).quantize(Decimal("0.01")))
            records.append(
                record(
                    {
                        "time": (now - timedelta(days=days)).isoformat(),
                        "kind": kind,
                        "symbol": symbol,
                        "quantity": quantity,
                        "price": price,
                        "fee": fee,
                        "note": note,
                    },
                    datetime.now(UTC),
                )
            )
        portfolio = portfolio_create(owner=user, name="Long-term", method="fifo")
        transactions_import(portfolio=portfolio, records=records)
        watchlist_create(owner=user, name="Favourites", symbols=WATCHLIST)
        aapl = prices["AAPL"]
        alert_create(
            owner=user,
            symbol="AAPL",
            condition="above",
            value=str((aapl * Decimal("1.01")).quantize(Decimal("0.01"))),
            note="AAPL 1% above its reference",
        )
        alert_create(
            owner=user, symbol="BTC-USD", condition="move_down", value="2", note="BTC down 2%"
        )
