"""A run as any runner hands it over (backtest `Result`, paper `Run`), and its rows as the
API and the exports write them (no Django: the command line's `--json` needs none)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from tickstream.market.core.messages import decimal_str
from tickstream.market.core.ticks import ns_to_iso
from tickstream.strategy.core.report import Figures, figures
from tickstream.trading.core.events import Fill


@dataclass(slots=True)
class RunRecord:
    """What any runner hands to be stored (backtest `Result`, paper `Run`)."""

    mode: str  # backtest, paper, hosted
    strategy: str
    source: str
    symbol: str
    currency: str
    cash: Decimal
    data: str
    params: dict[str, Any] = field(default_factory=dict)
    setup: dict[str, Any] = field(default_factory=dict)
    fills: Sequence[tuple[str, Fill, int]] = ()
    orders: list[dict[str, Any]] = field(default_factory=list)
    equity: Sequence[tuple[int, Decimal]] = ()
    prices: Sequence[tuple[int, Decimal]] = ()
    logs: Sequence[tuple[int, str]] = ()
    trades: int = 0
    first_ns: int | None = None
    last_ns: int | None = None
    checksum: str = ""
    market: str = "stock"
    error: str | None = None


def fill_row(order: str, f: Fill, ns: int) -> dict[str, Any]:
    return {
        "time": ns_to_iso(ns),
        "t": ns // 1_000_000,
        "order": order,
        "symbol": f.symbol,
        "side": f.side.value,
        "price": decimal_str(f.price),
        "quantity": decimal_str(f.quantity),
        "fee": decimal_str(f.fee),
        "liquidity": f.liquidity.value,
        "trade": f.trade,
    }


def figures_json(f: Figures) -> dict[str, Any]:
    """The figures with decimals as strings (None stays None: shown as "—")."""
    out = {}
    for key, value in asdict(f).items():
        out[key] = decimal_str(value) if isinstance(value, Decimal) else value
    return out


def record_figures(record: RunRecord) -> Figures:
    return figures(
        equity=record.equity,
        fills=record.fills,
        start=record.cash,
        first_ns=record.first_ns,
        last_ns=record.last_ns,
        market=record.market,
    )
