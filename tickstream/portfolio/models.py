"""Portfolios and their transactions. Money and quantities are decimals, never floats."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tickstream.fields import ExactDecimalField
from tickstream.market.models import PRICE, QUANTITY, Instrument
from tickstream.portfolio.core.costbasis import Kind, Method

RATE = {"max_digits": 32, "decimal_places": 16}  # JPY in USD: 0.0063593004769475


class Portfolio(models.Model):
    """A user's holdings and cash in one base currency, valued under one cost-basis method."""

    class CostMethod(models.TextChoices):
        FIFO = Method.FIFO.value, "FIFO (first in, first out)"
        LIFO = Method.LIFO.value, "LIFO (last in, first out)"
        HIFO = Method.HIFO.value, "HIFO (highest cost first)"
        AVERAGE = Method.AVERAGE.value, "Average cost"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="portfolios"
    )
    name = models.CharField(max_length=100)
    currency = models.CharField(max_length=10, default="USD")
    method = models.CharField(max_length=10, choices=CostMethod.choices, default=Method.FIFO)
    # What its returns and value chart are compared with (an index fund, BTC-USD), if set.
    benchmark = models.ForeignKey(
        Instrument, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # One more on every change of its transactions or method: what a kept replay was
    # made from (tickstream/portfolio/kept.py).
    revision = models.PositiveBigIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner", "name", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="portfolio_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class Transaction(models.Model):
    """One event of a portfolio. `quantity` is shares for buys and sells, the ratio for a
    split (4 for 4:1), and the amount of money for deposits, withdrawals, dividends and
    fees; `price` is per share."""

    portfolio = models.ForeignKey(Portfolio, on_delete=models.CASCADE, related_name="transactions")
    kind = models.CharField(max_length=12, choices=[(k.value, k.value.capitalize()) for k in Kind])
    instrument = models.ForeignKey(
        Instrument, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    quantity = ExactDecimalField(**QUANTITY)
    price = ExactDecimalField(**PRICE, default=0)
    fee = ExactDecimalField(**PRICE, default=0)
    # The currency of price, fee and amount ("": the portfolio's) and what one unit of it
    # was worth in the portfolio's currency then (the reference rate of its day, or the
    # rate the user entered).
    currency = models.CharField(max_length=3, blank=True, default="")
    rate = ExactDecimalField(**RATE, default=1)
    time = models.DateTimeField()
    note = models.CharField(max_length=500, blank=True, default="")
    # A digest of an imported row: importing the same file again adds nothing.
    import_key = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["portfolio", "time", "id"]
        indexes = [
            models.Index(fields=["portfolio", "time"], name="transaction_portfolio_time"),
            models.Index(fields=["portfolio", "import_key"], name="transaction_import_key"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.quantity} {self.instrument_id or ''} @ {self.price}"
