"""Storing strategy runs, and the owner's wishes for hosted strategies."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone

from tickstream.market.core.messages import decimal_str
from tickstream.strategy.core.report import thin
from tickstream.strategy.models import HostedStrategy, Mode, RunStatus, StrategyRun
from tickstream.strategy.record import RunRecord, figures_json, fill_row, record_figures

__all__ = ["RunRecord", "figures_json", "fill_row", "record_figures", "run_store"]


def _time(ns: int | None) -> datetime | None:
    return None if ns is None else datetime.fromtimestamp(ns / 1e9, tz=UTC)


def run_store(
    record: RunRecord, *, owner: Any = None, run: StrategyRun | None = None
) -> StrategyRun:
    """Store a finished run (a new row, or `run`, a hosted run's, completed)."""
    row = run or StrategyRun(owner=owner)
    row.mode, row.strategy, row.source = record.mode, record.strategy, record.source
    row.symbol, row.currency, row.cash = record.symbol, record.currency, record.cash
    row.data, row.params, row.setup = record.data, record.params, record.setup
    row.data_from, row.data_to = _time(record.first_ns), _time(record.last_ns)
    row.checksum, row.trades = record.checksum, record.trades
    row.figures = figures_json(record_figures(record))
    row.equity = [[ns // 1_000_000, decimal_str(v)] for ns, v in thin(record.equity)]
    row.prices = [[ns // 1_000_000, decimal_str(v)] for ns, v in thin(record.prices)]
    row.fills = [fill_row(o, f, ns) for o, f, ns in record.fills]
    row.orders = record.orders
    row.logs = [[ns // 1_000_000, text] for ns, text in list(record.logs)[-1000:]]
    row.status = RunStatus.FAILED if record.error else RunStatus.DONE
    row.error = record.error or ""
    row.finished_at = timezone.now()
    row.save()
    return row


def run_start(*, owner: Any, hosted: HostedStrategy, data: str) -> StrategyRun:
    """A hosted run begins: a row that says it is running."""
    return StrategyRun.objects.create(
        owner=owner,
        mode=Mode.HOSTED,
        status=RunStatus.RUNNING,
        strategy=hosted.source,
        source=hosted.source,
        params=hosted.params,
        symbol=hosted.symbol,
        cash=Decimal(0),
        data=data,
    )


def hosted_want(*, hosted: HostedStrategy, running: bool) -> HostedStrategy:
    """Its owner starts or stops it; the host acts within STRATEGY_HOST_POLL_S."""
    hosted.wanted = running
    if running:
        hosted.error = ""
    hosted.save(update_fields=["wanted", "error", "updated_at"])
    return hosted


def hosted_state(
    *, hosted_id: int, state: str, error: str = "", run: StrategyRun | None = None
) -> None:
    """The host says what became of it."""
    changes: dict[str, Any] = {"state": state, "error": error[:2000], "updated_at": timezone.now()}
    if run is not None:
        changes["run"] = run
    if state == HostedStrategy.State.FAILED:
        changes["wanted"] = False  # a failed strategy stays stopped until started again
    HostedStrategy.objects.filter(pk=hosted_id).update(**changes)
