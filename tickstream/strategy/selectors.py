"""Reads of strategy runs and hosted strategies: a user's own (staff also see the runs
stored from the command line, which have no owner)."""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet

from tickstream.strategy.models import HostedStrategy, StrategyRun


def runs_for(user: Any) -> QuerySet[StrategyRun]:
    mine = Q(owner=user)
    if getattr(user, "is_staff", False):
        mine |= Q(owner__isnull=True)
    return StrategyRun.objects.filter(mine).defer(
        "equity", "prices", "fills", "orders", "logs", "setup"
    )


def run_for(user: Any, run_id: int) -> StrategyRun | None:
    mine = Q(owner=user)
    if getattr(user, "is_staff", False):
        mine |= Q(owner__isnull=True)
    return StrategyRun.objects.filter(mine, pk=run_id).first()


def hosted_for(user: Any) -> QuerySet[HostedStrategy]:
    return HostedStrategy.objects.filter(owner=user)
