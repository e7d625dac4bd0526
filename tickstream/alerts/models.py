"""Watchlists and price alerts of users."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tickstream.alerts.core.book import Condition
from tickstream.fields import ExactDecimalField
from tickstream.market.models import PRICE, Instrument


class Watchlist(models.Model):
    """A named, ordered list of instruments a user follows."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="watchlists"
    )
    name = models.CharField(max_length=100)
    position = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["owner", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="watchlist_unique_name")
        ]

    def __str__(self) -> str:
        return self.name


class WatchlistItem(models.Model):
    watchlist = models.ForeignKey(Watchlist, on_delete=models.CASCADE, related_name="items")
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    position = models.PositiveIntegerField()

    class Meta:
        ordering = ["watchlist", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["watchlist", "instrument"], name="watchlist_item_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.watchlist_id} #{self.position} {self.instrument_id}"


class Alert(models.Model):
    """A price alert: `above`/`below` a level, or a `move_up`/`move_down` of `value` % from
    the session open. It fires once per crossing (`armed` is False until the price has
    crossed back)."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="alerts"
    )
    instrument = models.ForeignKey(Instrument, on_delete=models.CASCADE, related_name="+")
    condition = models.CharField(max_length=10, choices=[(c.value, c.value) for c in Condition])
    value = ExactDecimalField(**PRICE)
    note = models.CharField(max_length=200, blank=True, default="")
    active = models.BooleanField(default=True)
    armed = models.BooleanField(null=True, default=None)
    fired_count = models.PositiveIntegerField(default=0)
    last_fired_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)  # a user's edit, not a firing

    class Meta:
        ordering = ["owner", "-created_at", "id"]
        indexes = [models.Index(fields=["active", "updated_at"], name="alert_active_updated")]

    def __str__(self) -> str:
        return f"{self.instrument_id} {self.condition} {self.value}"


class AlertFiring(models.Model):
    """One time an alert fired: its history."""

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="firings")
    price = ExactDecimalField(**PRICE)
    level = ExactDecimalField(**PRICE)
    reference = ExactDecimalField(**PRICE, null=True, blank=True)
    fired_at = models.DateTimeField()

    class Meta:
        ordering = ["alert", "-fired_at", "-id"]

    def __str__(self) -> str:
        return f"{self.alert_id} at {self.price} ({self.fired_at:%Y-%m-%d %H:%M:%S})"
