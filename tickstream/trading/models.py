"""The paper venue's accounts, balances, orders and fills. Amounts are decimals, never
floats; the database's balances are the truth the engine's are loaded from."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models

from tickstream.fields import ExactDecimalField
from tickstream.market.models import PRICE, QUANTITY, Instrument
from tickstream.trading.core.events import Liquidity
from tickstream.trading.core.orders import OrderType, Side, Status, TimeInForce

AMOUNT = QUANTITY  # balances, reservations, notional: up to 10^22 with ten decimals
ZERO = Decimal(0)


def _choices(kind: type) -> list[tuple[str, str]]:
    return [(k.value, k.value) for k in kind]  # type: ignore[attr-defined]


class TradingAccount(models.Model):
    """A user's paper account; fills are recorded in `portfolio` too when it is set."""

    owner = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="trading_account"
    )
    portfolio = models.ForeignKey(
        "portfolio.Portfolio",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
        help_text="Every fill and deposit is recorded in this portfolio as well.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"paper account of {self.owner}"


class Balance(models.Model):
    """One currency or asset of an account: what can be used and what open orders hold."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="balances")
    currency = models.CharField(max_length=32)
    available = ExactDecimalField(**AMOUNT, default=ZERO)
    reserved = ExactDecimalField(**AMOUNT, default=ZERO)
    fees = ExactDecimalField(**AMOUNT, default=ZERO, help_text="fees paid in this currency")

    class Meta:
        ordering = ["account", "currency"]
        constraints = [
            models.UniqueConstraint(fields=["account", "currency"], name="balance_unique"),
            models.CheckConstraint(
                condition=models.Q(available__gte=0, reserved__gte=0), name="balance_not_negative"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.available} (+{self.reserved} reserved)"


class Transfer(models.Model):
    """Paper money in (a deposit) or out (a withdrawal: negative)."""

    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="transfers")
    currency = models.CharField(max_length=32)
    amount = ExactDecimalField(**AMOUNT)
    time = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["account", "time", "id"]

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


class Order(models.Model):
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="orders")
    instrument = models.ForeignKey(Instrument, on_delete=models.PROTECT, related_name="+")
    side = models.CharField(max_length=4, choices=_choices(Side))
    type = models.CharField(max_length=10, choices=_choices(OrderType))
    quantity = ExactDecimalField(**QUANTITY)
    price = ExactDecimalField(**PRICE, null=True, blank=True)
    stop_price = ExactDecimalField(**PRICE, null=True, blank=True)
    time_in_force = models.CharField(max_length=3, choices=_choices(TimeInForce))
    client_order_id = models.CharField(max_length=64, blank=True, default="")
    status = models.CharField(max_length=16, choices=_choices(Status), default=Status.NEW.value)
    reason = models.CharField(max_length=64, blank=True, default="", help_text="why it ended")
    filled = ExactDecimalField(**QUANTITY, default=ZERO)
    notional = ExactDecimalField(**AMOUNT, default=ZERO, help_text="sum of price x quantity")
    taker_notional = ExactDecimalField(
        **AMOUNT, default=ZERO, help_text="the part of the notional filled as taker"
    )
    fees = ExactDecimalField(**AMOUNT, default=ZERO)
    held_currency = models.CharField(max_length=32)
    held = ExactDecimalField(**AMOUNT, default=ZERO, help_text="reserved, not yet spent")
    triggered = models.BooleanField(default=False, help_text="a stop whose price traded")
    expires_at = models.DateTimeField(null=True, blank=True, help_text="DAY orders")
    # Every change adds one; the engine writes only over the version it knows.
    version = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["account", "client_order_id"],
                condition=~models.Q(client_order_id=""),
                name="order_unique_client_id",
            ),
            models.CheckConstraint(
                condition=models.Q(filled__gte=0, filled__lte=models.F("quantity"), held__gte=0),
                name="order_within_quantity",
            ),
        ]
        indexes = [
            models.Index(fields=["account", "status"], name="order_account_status"),
            models.Index(fields=["account", "created_at"], name="order_account_created"),
            models.Index(fields=["status"], name="order_status"),
            models.Index(fields=["updated_at"], name="order_updated"),
        ]

    def __str__(self) -> str:
        return f"{self.side} {self.quantity} {self.instrument_id} {self.type} ({self.status})"

    @property
    def is_open(self) -> bool:
        return self.status in (Status.NEW.value, Status.PARTIALLY_FILLED.value)


class Fill(models.Model):
    order = models.ForeignKey(Order, on_delete=models.CASCADE, related_name="fills")
    account = models.ForeignKey(TradingAccount, on_delete=models.CASCADE, related_name="fills")
    price = ExactDecimalField(**PRICE)
    quantity = ExactDecimalField(**QUANTITY)
    fee = ExactDecimalField(**AMOUNT)
    fee_currency = models.CharField(max_length=32)
    liquidity = models.CharField(max_length=5, choices=_choices(Liquidity))
    trade = models.CharField(max_length=96, help_text="the market trade that caused it")
    time = models.DateTimeField()

    class Meta:
        ordering = ["-time", "-id"]
        constraints = [
            # One trade fills an order once: a second engine's copy of a fill is refused.
            models.UniqueConstraint(fields=["order", "trade"], name="fill_once_per_trade")
        ]
        indexes = [models.Index(fields=["account", "time"], name="fill_account_time")]

    def __str__(self) -> str:
        return f"{self.quantity} @ {self.price} ({self.liquidity})"


class EngineBeat(models.Model):
    """A running matching engine says it is alive; orders are refused without one."""

    name = models.CharField(max_length=200, unique=True)
    started_at = models.DateTimeField()
    seen_at = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name} (seen {self.seen_at})"
