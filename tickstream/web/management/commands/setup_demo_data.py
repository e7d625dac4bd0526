"""Development mode: the demo user's sample portfolios (one in USD, one in EUR holding
shares in EUR, GBP and USD), watchlist and alerts, so a new user
sees a working tracker at once, with simulated daily candles behind its history (a random
walk through the sample's trade prices to today's), and a paper trading account funded
with TRADING_DEMO_DEPOSIT USD whose fills go to a "Paper trading" portfolio. Production
mode creates nothing."""

from __future__ import annotations

import math
import random
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import IntegrityError, transaction

from tickstream.alerts.services import alert_create, watchlist_create
from tickstream.market.models import Candle, Instrument
from tickstream.portfolio.core.records import record
from tickstream.portfolio.models import Portfolio
from tickstream.portfolio.services import (
    PortfolioError,
    portfolio_create,
    transactions_import,
)
from tickstream.trading.models import TradingAccount
from tickstream.trading.services import account_link, transfer_make

DEMO_USER = "demo"
WATCHLIST = ["AAPL", "MSFT", "NVDA", "AMZN", "SPY", "BTC-USD", "ETH-USD", "SOL-USD"]

# Days ago, kind, symbol, quantity, price as a share of the instrument's reference price
# (the simulated market starts there), fee, note.
SAMPLE: list[tuple[int, str, str, str, str, str, str]] = [
    (1100, "deposit", "", "60000", "", "0", "opening deposit"),
    (1095, "buy", "AAPL", "40", "0.66", "1", ""),
    (1090, "buy", "MSFT", "15", "0.62", "1", ""),
    (1060, "buy", "NVDA", "20", "1.7", "1", "before the 10:1 split"),
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

# The second portfolio, in EUR: euros deposited, European shares in EUR and GBP and
# American ones in USD, each at the ECB reference rate of its day (amounts of dividends
# are in the share's own currency), so the currency effect shows at once.
EUROPE: list[tuple[int, str, str, str, str, str, str]] = [
    (900, "deposit", "", "50000", "", "0", "opening deposit"),
    (895, "buy", "SAP.DE", "60", "0.62", "5", ""),
    (880, "buy", "ASML.AS", "12", "0.95", "5", ""),
    (870, "buy", "AAPL", "40", "0.72", "1", "paid in USD"),
    (860, "buy", "SHEL.L", "400", "0.93", "6", "paid in GBP"),
    (700, "dividend", "SAP.DE", "132", "", "0", "annual dividend, 2.20 a share"),
    (620, "dividend", "AAPL", "9.60", "", "0", "quarterly dividend"),
    (530, "dividend", "SHEL.L", "110.80", "", "0", "quarterly dividend"),
    (450, "sell", "ASML.AS", "4", "1.10", "5", "trim"),
    (400, "buy", "MSFT", "10", "0.85", "1", ""),
    (340, "dividend", "SAP.DE", "141", "", "0", "annual dividend, 2.35 a share"),
    (250, "dividend", "AAPL", "10.00", "", "0", "quarterly dividend"),
    (200, "interest", "", "35.50", "", "0", "interest on cash"),
    (160, "dividend", "SHEL.L", "114.40", "", "0", "quarterly dividend"),
    (120, "sell", "SAP.DE", "20", "1.02", "5", ""),
    (70, "dividend", "ASML.AS", "12.16", "", "0", "1.52 a share"),
    (40, "dividend", "AAPL", "10.00", "", "0", "quarterly dividend"),
]


class Command(BaseCommand):
    help = "Development mode: the demo user's sample portfolio, watchlist and two alerts."

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.DEVELOPMENT:
            raise CommandError("setup_demo_data only runs with TICKSTREAM_DEVELOPMENT=true")
        user = get_user_model().objects.filter(username=DEMO_USER).first()
        if user is None:
            raise CommandError("run setup_demo first (it creates the demo user)")
        self._paper(user)
        self._long_term(user)
        self._europe(user)  # after: the daily candles it shares are the first one's

    def _long_term(self, user: Any) -> None:
        if Portfolio.objects.filter(owner=user, name="Long-term").exists():
            self.stdout.write("demo portfolio: present")
            return
        try:
            with transaction.atomic():
                self._create(user)
        except PortfolioError:  # another process starting at the same moment made it
            self.stdout.write("demo portfolio: present")
            return
        self.stdout.write("demo portfolio, watchlist and alerts: created")

    def _paper(self, user: Any) -> None:
        """The paper trading account, once: funded, its fills recorded in a portfolio."""
        if TradingAccount.objects.filter(owner=user).exists():
            self.stdout.write("demo paper trading account: present")
            return
        try:
            with transaction.atomic():
                account = TradingAccount.objects.create(owner=user)
                paper = portfolio_create(owner=user, name="Paper trading", method="fifo")
                account_link(account=account, portfolio=paper)
                transfer_make(account=account, amount=settings.TRADING_DEMO_DEPOSIT)
        except (PortfolioError, IntegrityError):  # another process made it meanwhile
            self.stdout.write("demo paper trading account: present")
            return
        self.stdout.write(
            f"demo paper trading account: {settings.TRADING_DEMO_DEPOSIT:,} USD, "
            "fills recorded in the portfolio 'Paper trading'"
        )

    def _europe(self, user: Any) -> None:
        """The portfolio in EUR, once."""
        if Portfolio.objects.filter(owner=user, name="Europe (EUR)").exists():
            self.stdout.write("demo EUR portfolio: present")
            return
        records = self._records(EUROPE)
        try:
            with transaction.atomic():
                if settings.FEEDS.strip() == "simulated":
                    self._daily_candles(records, datetime.now(UTC).date())
                portfolio = portfolio_create(
                    owner=user, name="Europe (EUR)", method="fifo", currency="EUR"
                )
                transactions_import(portfolio=portfolio, records=records)
                portfolio.benchmark = Instrument.objects.filter(symbol="SPY").first()
                portfolio.save(update_fields=["benchmark"])
        except PortfolioError:  # another process made it meanwhile
            self.stdout.write("demo EUR portfolio: present")
            return
        self.stdout.write("demo portfolio in EUR (with USD and GBP holdings): created")

    def _records(self, rows: list[tuple[int, str, str, str, str, str, str]]) -> list[Any]:
        prices = dict(Instrument.objects.values_list("symbol", "reference_price"))
        now = datetime.now(UTC).replace(hour=15, minute=30, second=0, microsecond=0)
        records = []
        for days, kind, symbol, quantity, share, fee, note in rows:
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
        return records

    def _create(self, user: Any) -> None:
        prices = dict(Instrument.objects.values_list("symbol", "reference_price"))
        now = datetime.now(UTC).replace(hour=15, minute=30, second=0, microsecond=0)
        records = self._records(SAMPLE)
        if settings.FEEDS.strip() == "simulated":  # a real feed's history is its own
            self._daily_candles(records, now.date())
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

    def _daily_candles(self, records: list[Any], today: date) -> None:
        """Daily candles up to yesterday for the sample's instruments (where none are
        stored): a walk whose log-price passes through each trade price (raw, so before a
        split it is the split ratio higher) and ends at the instrument's reference price."""
        for symbol in sorted({r.symbol for r in records if r.symbol}):
            instrument = Instrument.objects.get(symbol=symbol)
            if Candle.objects.filter(instrument=instrument, interval="1d").exists():
                continue
            splits = [
                (r.time.date(), r.quantity)
                for r in records
                if r.kind == "split" and r.symbol == symbol
            ]

            def adjusted(day: date, price: Decimal, splits: list[Any] = splits) -> float:
                factor = math.prod(float(q) for d, q in splits if d > day)
                return math.log(float(price) / factor)

            anchors = sorted(
                (r.time.date(), adjusted(r.time.date(), r.price))
                for r in records
                if r.symbol == symbol and r.kind in ("buy", "sell")
            )
            anchors.append((today, math.log(float(instrument.reference_price))))
            rows = self._walk(instrument, anchors, splits, today)
            Candle.objects.bulk_create(rows, batch_size=500)

    def _walk(
        self, instrument: Instrument, anchors: list[Any], splits: list[Any], today: date
    ) -> list[Candle]:
        rng = random.Random(instrument.symbol)
        sigma = instrument.volatility / math.sqrt(365)
        tick = instrument.tick_size
        rows = []
        previous = None
        for (d0, p0), (d1, p1) in zip(anchors, anchors[1:], strict=False):
            span = (d1 - d0).days
            steps = [0.0]
            for _ in range(span):
                steps.append(steps[-1] + rng.gauss(0, sigma))
            for k in range(span):
                day = d0 + timedelta(days=k)
                if day >= today:
                    break
                t = k / span if span else 0.0
                # A Brownian bridge: the noise is zero at both anchors.
                log_price = p0 + (p1 - p0) * t + steps[k] - t * steps[span]
                ratio = math.prod(float(q) for d, q in splits if d > day)
                close = Decimal(str(round(math.exp(log_price) * ratio, 8))).quantize(tick)
                close = max(close, tick)
                open_ = previous or close
                spread = abs(Decimal(str(rng.gauss(0, sigma / 2)))) * close
                rows.append(
                    Candle(
                        instrument=instrument,
                        interval="1d",
                        start=datetime.combine(day, time(0), UTC),
                        open=open_,
                        high=(max(open_, close) + spread).quantize(tick),
                        low=max(tick, (min(open_, close) - spread).quantize(tick)),
                        close=close,
                        volume=Decimal(rng.randint(1_000, 90_000)),
                        trades=rng.randint(100, 9_000),
                        closed=True,
                    )
                )
                previous = close
        return rows
