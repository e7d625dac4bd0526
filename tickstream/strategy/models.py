"""Strategy runs (backtest, paper, hosted) with what is needed to read them again, and the
strategies a server hosts."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from tickstream.fields import ExactDecimalField
from tickstream.trading.models import AMOUNT


class Mode(models.TextChoices):
    BACKTEST = "backtest"
    PAPER = "paper"
    HOSTED = "hosted"


class RunStatus(models.TextChoices):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"  # the strategy raised; its orders were cancelled


class StrategyRun(models.Model):
    """One run: its parameters, the data it played (range and checksum), and what it did
    (fills, orders, the equity curve, the figures). Fills and the curve are kept as JSON
    with decimals as strings: they are read whole, never queried."""

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="strategy_runs",
        help_text="none: stored from the command line, shown to staff",
    )
    mode = models.CharField(max_length=16, choices=Mode.choices)
    status = models.CharField(max_length=16, choices=RunStatus.choices, default=RunStatus.DONE)
    strategy = models.CharField(max_length=200, help_text="the class")
    source = models.CharField(max_length=500, help_text="the file it came from")
    params = models.JSONField(default=dict, blank=True)
    symbol = models.CharField(max_length=32)
    currency = models.CharField(max_length=16, default="USD")
    cash = ExactDecimalField(**AMOUNT)
    data = models.CharField(max_length=500, help_text="the price file, or the server")
    data_from = models.DateTimeField(null=True, blank=True)
    data_to = models.DateTimeField(null=True, blank=True)
    checksum = models.CharField(max_length=64, blank=True, help_text="SHA-256 of the trades")
    trades = models.BigIntegerField(default=0)
    setup = models.JSONField(default=dict, blank=True, help_text="rules, latency, intervals")
    figures = models.JSONField(default=dict, blank=True)
    equity = models.JSONField(default=list, blank=True)  # [[ms, "value"], ...]
    prices = models.JSONField(default=list, blank=True)  # [[ms, "close"], ...] per period
    fills = models.JSONField(default=list, blank=True)
    orders = models.JSONField(default=list, blank=True)
    logs = models.JSONField(default=list, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["owner", "-created_at"], name="strategyrun_owner_recent")]

    def __str__(self) -> str:
        return f"{self.strategy} on {self.symbol} ({self.mode})"


class HostedStrategy(models.Model):
    """A strategy the server runs for its owner, in the process that runs the pipeline,
    on the owner's paper account. Its code is one of the sources the server offers
    (`sources.py`: the examples and the files in STRATEGY_DIR); users choose, never
    upload."""

    class State(models.TextChoices):
        STOPPED = "stopped"
        RUNNING = "running"
        FAILED = "failed"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="hosted_strategies"
    )
    name = models.CharField(max_length=100)
    source = models.CharField(max_length=200, help_text="a source the server offers")
    params = models.JSONField(default=dict, blank=True)
    symbol = models.CharField(max_length=32)
    interval = models.CharField(max_length=8, default="1m")
    wanted = models.BooleanField(default=False, help_text="its owner wants it running")
    state = models.CharField(max_length=16, choices=State.choices, default=State.STOPPED)
    error = models.TextField(blank=True)
    run = models.ForeignKey(
        StrategyRun, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["owner", "name"]
        constraints = [
            models.UniqueConstraint(fields=["owner", "name"], name="hosted_strategy_unique_name")
        ]

    def __str__(self) -> str:
        return self.name
