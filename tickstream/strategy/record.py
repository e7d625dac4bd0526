"""A run as any runner hands it over (backtest `Result`, paper `Run`), and its rows as the
API and the exports write them (no Django: the command line's `--json` needs none)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from decimal import Decimal
from typing import Any

from tickstream.common.core.edge import FieldError, amount
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


def record_from_paper(
    paper: Any, *, mode: str, strategy: str, source: str, params: dict[str, Any], data: str
) -> RunRecord:
    """What a paper run (`paper.Paper`) did, to be stored. Its start is the account's
    equity at its first trade (valued at that trade's price)."""
    run = paper.run_
    symbol = paper.symbols[0]
    spec = paper.specs.get(symbol)
    return RunRecord(
        mode=mode,
        strategy=strategy,
        source=source,
        symbol=symbol,
        currency=spec.quote_currency if spec else "USD",
        cash=run.equity[0][1] if run.equity else Decimal(0),
        data=data,
        params=params,
        setup={
            "intervals": [i.name for i in paper.market.intervals],
            "indicators": [i.text for i in paper.market.indicators],
            "reaction_ms_p50": _median(run.reaction_ms),
            "gaps": run.gaps,
        },
        fills=run.fills,
        orders=[{"client_order_id": c, **o} for c, o in run.orders.items()],
        equity=run.equity,
        prices=paper.prices,
        logs=run.logs,
        trades=paper.trades_told,
        first_ns=paper.first_ns,
        last_ns=paper.now_ns or None,
        checksum=paper.digest.hexdigest(),
        market="crypto" if spec is not None and spec.kind == "crypto" else "stock",
        error=run.error,
    )


def _median(values: Any) -> float | None:
    ordered = sorted(values)
    return ordered[len(ordered) // 2] if ordered else None


# --- a run sent to a server (`strategy paper --save`): the record, as JSON, and back ---

MAX_POINTS = 200_000  # equity and price points of an uploaded run
MAX_FILLS = 100_000
MAX_ORDERS = 100_000
MAX_LOGS = 1_000
MAX_TEXT = 500
NS_DIGITS = 20  # a time in ns since 1970: 19 digits until 2286


def record_json(record: RunRecord) -> dict[str, Any]:
    """The record as plain JSON: decimals and ns times as strings (exact anywhere)."""
    return {
        "mode": record.mode,
        "strategy": record.strategy,
        "source": record.source,
        "symbol": record.symbol,
        "currency": record.currency,
        "cash": decimal_str(record.cash),
        "data": record.data,
        "params": record.params,
        "setup": record.setup,
        "fills": [
            {
                "ns": str(ns),
                "order": o,
                "side": f.side.value,
                "price": decimal_str(f.price),
                "quantity": decimal_str(f.quantity),
                "fee": decimal_str(f.fee),
                "liquidity": f.liquidity.value,
                "trade": f.trade,
            }
            for o, f, ns in record.fills
        ],  # fmt: skip
        "orders": record.orders,
        "equity": [[str(ns), decimal_str(v)] for ns, v in record.equity],
        "prices": [[str(ns), decimal_str(v)] for ns, v in record.prices],
        "logs": [[str(ns), text] for ns, text in record.logs],
        "trades": record.trades,
        "first_ns": None if record.first_ns is None else str(record.first_ns),
        "last_ns": None if record.last_ns is None else str(record.last_ns),
        "checksum": record.checksum,
        "market": record.market,
        "error": record.error,
    }


class RecordError(ValueError):
    """An uploaded record that does not parse: `field` says where."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


def _text(data: dict[str, Any], key: str, limit: int = MAX_TEXT, *, empty: bool = True) -> str:
    value = data.get(key, "")
    if value is None and empty:
        return ""
    if not isinstance(value, str) or len(value) > limit or (not empty and not value):
        raise RecordError(key, f"{key} must be text of at most {limit} characters")
    return value


def _ns(value: Any, field: str) -> int:
    if not isinstance(value, str) or not value.isdigit() or len(value) > NS_DIGITS:
        raise RecordError(field, f"{field} must be a time in ns, as digits")
    return int(value)


def _number(value: Any, field: str, *, positive: bool = False) -> Decimal:
    try:
        return amount(field, value, positive=positive)
    except FieldError as exc:
        raise RecordError(field, exc.message) from None


def _list(data: dict[str, Any], key: str, limit: int) -> list[Any]:
    value = data.get(key) or []
    if not isinstance(value, list) or len(value) > limit:
        raise RecordError(key, f"{key} must be a list of at most {limit:,}")
    return value


def _points(data: dict[str, Any], key: str) -> list[tuple[int, Decimal]]:
    out = []
    for i, point in enumerate(_list(data, key, MAX_POINTS)):
        if not isinstance(point, list) or len(point) != 2:
            raise RecordError(f"{key}[{i}]", "a point is [ns, value]")
        out.append((_ns(point[0], f"{key}[{i}]"), _number(point[1], f"{key}[{i}]")))
    return out


def _plain(value: Any, depth: int = 0) -> Any:
    """JSON as a JSON column keeps it: a number the parser read as a Decimal, as text."""
    if depth > 8:
        raise RecordError("body", "nested too deep")
    if isinstance(value, Decimal):
        return decimal_str(value)
    if isinstance(value, dict):
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v, depth + 1) for v in value]
    return value


def record_from_json(data: Any, *, symbols: set[str]) -> RunRecord:
    """An uploaded record, every value parsed and bounded (`symbols`: those traded here).
    RecordError names the first field that is wrong. O(its size)."""
    from tickstream.trading.core.events import Liquidity
    from tickstream.trading.core.orders import Side

    if not isinstance(data, dict):
        raise RecordError("body", "a run must be a JSON object")
    mode = data.get("mode")
    if mode not in ("backtest", "paper"):
        raise RecordError("mode", "mode must be backtest or paper")
    symbol = _text(data, "symbol", 32, empty=False)
    if symbol not in symbols:
        raise RecordError("symbol", f"{symbol!r} is not traded here")
    params, setup = _plain(data.get("params") or {}), _plain(data.get("setup") or {})
    if not isinstance(params, dict) or not isinstance(setup, dict):
        raise RecordError("params", "params and setup must be objects")
    if len(repr(params)) > 4_000 or len(repr(setup)) > 4_000:
        raise RecordError("params", "params and setup must be small (4,000 characters)")
    fills = []
    for i, f in enumerate(_list(data, "fills", MAX_FILLS)):
        where = f"fills[{i}]"
        if not isinstance(f, dict):
            raise RecordError(where, "a fill is an object")
        try:
            side, liquidity = Side(f.get("side")), Liquidity(f.get("liquidity"))
        except ValueError:
            raise RecordError(where, "side must be buy or sell, liquidity maker or taker") from None
        fill = Fill(
            0, 0, symbol, side,
            _number(f.get("price"), where, positive=True),
            _number(f.get("quantity"), where, positive=True),
            _number(f.get("fee"), where),
            liquidity,
            _text(f, "trade", 128),
        )  # fmt: skip
        fills.append((_text(f, "order", 64), fill, _ns(f.get("ns"), where)))
    orders = _plain(_list(data, "orders", MAX_ORDERS))
    if not all(isinstance(o, dict) and len(repr(o)) <= 1_000 for o in orders):
        raise RecordError("orders", "an order is an object of at most 1,000 characters")
    logs = []
    for i, entry in enumerate(_list(data, "logs", MAX_LOGS)):
        if not isinstance(entry, list) or len(entry) != 2 or not isinstance(entry[1], str):
            raise RecordError(f"logs[{i}]", "a log entry is [ns, text]")
        logs.append((_ns(entry[0], f"logs[{i}]"), entry[1][:MAX_TEXT]))
    trades = data.get("trades", 0)
    if isinstance(trades, Decimal) and trades == trades.to_integral_value():
        trades = int(trades)  # the API's parser reads every JSON number as a Decimal
    if isinstance(trades, bool) or not isinstance(trades, int) or not 0 <= trades < 10**15:
        raise RecordError("trades", "trades must be a count")
    checksum = _text(data, "checksum", 64)
    if checksum and not all(c in "0123456789abcdef" for c in checksum):
        raise RecordError("checksum", "checksum must be SHA-256 in hex")
    first, last = data.get("first_ns"), data.get("last_ns")
    market = data.get("market", "stock")
    if market not in ("stock", "crypto"):
        raise RecordError("market", "market must be stock or crypto")
    error = data.get("error")
    if error is not None and not isinstance(error, str):
        raise RecordError("error", "error must be text")
    return RunRecord(
        mode=mode, strategy=_text(data, "strategy", 200, empty=False),
        source=_text(data, "source"), symbol=symbol, currency=_text(data, "currency", 16),
        cash=_number(data.get("cash"), "cash"), data=_text(data, "data"),
        params=params, setup=setup, fills=fills, orders=orders,
        equity=_points(data, "equity"), prices=_points(data, "prices"), logs=logs,
        trades=trades, first_ns=None if first is None else _ns(first, "first_ns"),
        last_ns=None if last is None else _ns(last, "last_ns"), checksum=checksum,
        market=market, error=None if error is None else error[:2_000],
    )  # fmt: skip
