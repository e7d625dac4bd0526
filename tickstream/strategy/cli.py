"""`python -m tickstream strategy backtest|paper FILE.py ...`: a strategy file backtested on
a price file, or paper-traded on a server; a summary table of its figures at the end.

The strategy file defines one `Strategy` subclass (or name it with `--class`); it is made
with `symbol=` and each `--param key=value` (numbers as int or Decimal, `true`/`false`,
else text).

backtest: the instrument's price step is the finest the file has, its quantity step 1
(`--step` for fractions, crypto's 0.00001); `--latency-ms` delays each order and cancel
(simulated time); `--fills out.csv` and `--json run.json` export the run; `--save` stores
it (the strategies page shows it). A progress bar goes to stderr on a terminal.

paper: `--server ws://HOST:PORT/ws/v1/ --token KEY` (a user's API token), until Ctrl-C
or `--duration` seconds; the open orders are cancelled when it stops.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import json
import signal
import sys
import time
import urllib.error
import urllib.request
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from tickstream.common.core.edge import NumberError, parse_decimal
from tickstream.market.core.analytics.indicators import (
    IndicatorSpec,
    IndicatorSpecError,
    parse_indicators,
)
from tickstream.market.core.analytics.intervals import Interval, IntervalError, parse_interval
from tickstream.market.core.formats import BarRecord, PriceFileError, bar_path, read_price_file
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick, datetime_to_ns, ns_to_iso
from tickstream.market.feeds.replay import file_trades
from tickstream.strategy.core.api import Strategy
from tickstream.strategy.core.backtest import Backtest, Limits, Result
from tickstream.strategy.core.report import MINUTE_NS, Figures, TapeDigest, figures
from tickstream.strategy.record import (
    RunRecord,
    figures_json,
    fill_row,
    record_figures,
    record_from_paper,
    record_json,
)
from tickstream.strategy.sources import StrategyError, load_strategy, make_strategy
from tickstream.trading.core.events import Fill
from tickstream.trading.core.matching import Market, market_base

__all__ = ["StrategyError", "main"]

# A paper strategy's trade -> order placed on a server with the default settings (the Hub's
# 100 ms flush, SQLite): the median measured by `make bench-strategy-paper` (one strategy,
# simulated market at 1,000 trades/s, 2 cores). `--latency-ms` sets your own.
DEFAULT_LATENCY_MS = "90"


def _param(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key.isidentifier():
        raise StrategyError(f"--param {text!r}: use key=value")
    return key, value


def _finest_step(prices: list[Decimal]) -> Decimal:
    """The price step of a file: its prices' finest decimal place."""
    places = 0
    for price in prices:
        exponent = price.as_tuple().exponent
        if isinstance(exponent, int):
            places = max(places, -exponent)
    return Decimal(1).scaleb(-places)


class Progress:
    """A progress bar on a terminal (nothing elsewhere), redrawn at most 10 times a second."""

    def __init__(self, total: int, out: TextIO) -> None:
        self.total, self.out = total, out
        self.shown = out.isatty() if hasattr(out, "isatty") else False
        self.started = self._drawn = time.monotonic()

    def __call__(self, done: int) -> None:
        if not self.shown or (done < self.total and time.monotonic() - self._drawn < 0.1):
            return
        self._drawn = now = time.monotonic()
        share = done / self.total if self.total else 1.0
        bar = "#" * int(share * 30)
        rate = done / max(now - self.started, 1e-9)
        self.out.write(f"\r[{bar:<30}] {share * 100:5.1f} %  {done:,} trades  {rate:,.0f}/s")
        if done >= self.total:
            self.out.write("\n")
        self.out.flush()


@dataclass(frozen=True)
class _Made:
    cls: type[Strategy]
    params: dict[str, str]
    symbol: str
    strategy: Strategy
    interval: Interval
    indicators: list[IndicatorSpec]


def _made(options: argparse.Namespace) -> _Made:
    """The strategy of the command line, made, with the candles and indicators it keeps."""
    cls = load_strategy(options.strategy, options.strategy_class)
    params = dict(_param(p) for p in options.param)
    symbol = options.symbol.upper()
    strategy = make_strategy(cls, symbol, params, options.interval)
    try:
        interval = parse_interval(options.interval)
        indicators = parse_indicators(options.indicators or strategy.indicators())
    except (IntervalError, IndicatorSpecError) as exc:
        raise StrategyError(str(exc)) from None
    return _Made(cls, params, symbol, strategy, interval, list(indicators))


def backtest(options: argparse.Namespace, out: TextIO, err: TextIO = sys.stderr) -> Result:
    made = _made(options)
    cls, params, symbol, strategy = made.cls, made.params, made.symbol, made.strategy
    interval, indicators = made.interval, made.indicators
    try:
        cash = parse_decimal(options.cash)
        step = parse_decimal(options.step)
        latency = parse_decimal(options.latency_ms)
    except NumberError as exc:
        raise StrategyError(str(exc)) from None
    if latency < 0:
        raise StrategyError("--latency-ms cannot be negative")
    start, end = _moment(options.start, "--from"), _moment(options.end, "--to")
    if options.data == "stored":
        trades = stored_trades(symbol, start, end)
    else:
        try:
            prices = read_price_file(options.data)
        except PriceFileError as exc:
            raise StrategyError(str(exc)) from None
        trades = [
            t for t in file_trades(prices)
            if (start is None or t[0] >= start) and (end is None or t[0] < end)
        ]  # fmt: skip
    if not trades:
        where = "the stored history" if options.data == "stored" else options.data
        raise StrategyError(f"{where} holds no trades or bars of {symbol} in that range")
    tick = _finest_step([price for _, price, _, _ in trades])
    quote = options.currency.upper()
    kind = InstrumentKind.CRYPTO if "-" in symbol else InstrumentKind.STOCK
    spec = InstrumentSpec(symbol, symbol, kind, tick_size=tick)
    market = Market(
        symbol, market_base(symbol, kind is not InstrumentKind.STOCK), quote, tick=tick, step=step
    )
    run = Backtest(
        strategy, [spec], [market], intervals=[interval], indicators=indicators,
        cash={quote: cash}, limits=Limits(), latency_ms=latency,
    )  # fmt: skip
    run.progress = Progress(len(trades), err)
    digest = TapeDigest()
    minutes: list[tuple[int, Decimal]] = []

    def ticks() -> Any:
        for ts, p, s, i in trades:
            digest.add(symbol, p, s, ts, i)
            if minutes and minutes[-1][0] // MINUTE_NS == ts // MINUTE_NS:
                minutes[-1] = (ts, p)
            else:
                minutes.append((ts, p))
            yield Tick(symbol, p, s, ts, ts, "file", i)

    result = run.run(ticks())
    f = figures(
        equity=result.equity, fills=result.fills, start=cash,
        first_ns=result.first_ns, last_ns=result.last_ns, market=kind.value,
    )  # fmt: skip
    summary(
        f, result.trades, len(result.rejected), quote, out, result.trades_offered - result.trades
    )
    if options.fills:
        write_fills(options.fills, result.fills)
    if options.json or options.save:
        record = RunRecord(
            mode="backtest",
            strategy=cls.__name__, source=str(options.strategy), symbol=symbol,
            currency=quote, cash=cash, data=str(options.data), params=params,
            setup={"latency_ms": str(latency), "interval": interval.name,
                   "indicators": [i.text for i in indicators], "step": str(step),
                   "rules": {k: str(v) for k, v in asdict(run.venue.rules).items()}},
            fills=result.fills,
            orders=[_order_row(c, o) for c, o in result.orders.items()],
            equity=result.equity, prices=minutes, logs=result.logs, trades=result.trades,
            first_ns=result.first_ns, last_ns=result.last_ns, checksum=digest.hexdigest(),
            market=kind.value,
        )  # fmt: skip
        _export(record, options, out)
    return result


def _moment(text: str | None, option: str) -> int | None:
    """`--from`/`--to`: an ISO date or time (UTC unless it says), as ns."""
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise StrategyError(f"{option} {text!r}: use an ISO date or time, 2024-01-31") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return datetime_to_ns(moment)


def stored_trades(
    symbol: str, start: int | None, end: int | None
) -> list[tuple[int, Decimal, Decimal, str | None]]:
    """The server database's history of `symbol` in [start, end): its stored trades
    (MARKET_STORE_TICKS), else its closed 1-minute candles as bars (their four-trade path)."""
    import os

    import django

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tickstream.settings")
    django.setup()
    from django.db import DatabaseError

    from tickstream.market.models import Candle, Trade

    def span(field: str) -> dict[str, Any]:
        out: dict[str, Any] = {"instrument__symbol": symbol}
        if start is not None:
            out[f"{field}__gte"] = datetime.fromtimestamp(start / 1e9, tz=UTC)
        if end is not None:
            out[f"{field}__lt"] = datetime.fromtimestamp(end / 1e9, tz=UTC)
        return out

    try:
        rows = Trade.objects.filter(**span("ts_event")).order_by("ts_event", "id")
        trades = [(datetime_to_ns(r.ts_event), r.price, r.size, r.trade_id or None) for r in rows]
        if trades:
            return trades
        bars = Candle.objects.filter(interval="1m", closed=True, **span("start")).order_by("start")
        out = []
        for c in bars:
            bar = BarRecord(datetime_to_ns(c.start), c.open, c.high, c.low, c.close, c.volume)
            out.extend((ts, p, size, None) for ts, p, size in bar_path(bar, 60 * NS_PER_S))
        return out
    except DatabaseError as exc:
        raise StrategyError(
            f"cannot read the stored history ({exc}): is the database migrated?"
        ) from None


def _order_row(client: str, o: Any) -> dict[str, Any]:
    return {
        "client_order_id": client, "symbol": o.symbol, "side": o.side.value,
        "type": o.type.value, "quantity": str(o.quantity),
        "price": None if o.price is None else str(o.price),
        "stop_price": None if o.stop_price is None else str(o.stop_price),
        "time_in_force": o.tif.value, "status": o.status.value, "filled": str(o.filled),
    }  # fmt: skip


def _export(record: Any, options: argparse.Namespace, out: TextIO) -> None:
    if options.json:
        data = {
            "strategy": record.strategy, "symbol": record.symbol, "params": record.params,
            "data": record.data, "checksum": record.checksum, "trades": record.trades,
            "setup": record.setup,
            "figures": figures_json(record_figures(record)),
            "fills": [fill_row(o, f, ns) for o, f, ns in record.fills],
            "orders": record.orders,
            "equity": [[ns // 1_000_000, str(v)] for ns, v in record.equity],
        }  # fmt: skip
        Path(options.json).write_text(json.dumps(data, indent=1))
    if options.save:
        import os

        import django

        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tickstream.settings")
        django.setup()
        from django.contrib.auth import get_user_model
        from django.db import DatabaseError

        from tickstream.strategy.services import run_store

        try:
            owner = None
            if options.owner:
                owner = get_user_model().objects.filter(username=options.owner).first()
                if owner is None:
                    raise StrategyError(f"--owner: no user {options.owner!r}")
            row = run_store(record, owner=owner)
        except DatabaseError as exc:
            raise StrategyError(
                f"cannot store the run ({exc}): is the database migrated?"
            ) from None
        out.write(f"stored as run {row.pk}: /strategies/runs/{row.pk}/\n")


def write_fills(path: str, fills: list[tuple[str, Fill, int]]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.writer(f, lineterminator="\n")
        writer.writerow(["time", "order", "side", "price", "quantity", "fee", "liquidity"])
        for order, fill, ts in fills:
            writer.writerow(
                [ns_to_iso(ts), order, fill.side.value, fill.price, fill.quantity,
                 fill.fee, fill.liquidity.value]
            )  # fmt: skip


def summary(
    f: Figures, trades: int, refused: int, quote: str, out: TextIO, skipped: int = 0
) -> None:
    rows = [
        ("trades played", f"{trades:,}"),
        ("trades the market core refused", f"{skipped:,}"),
        ("orders refused", f"{refused:,}"),
        *f.rows(quote),
    ]
    width = max(len(k) for k, _ in rows)
    for key, value in rows:
        out.write(f"{key:<{width}}  {value:>16}\n")


def http_base(server: str) -> str:
    """The server's HTTP address from its websocket's: ws://host/ws/v1/ -> http://host."""
    return server.replace("wss://", "https://").replace("ws://", "http://").split("/ws/")[0]


def server_instruments(server: str) -> list[InstrumentSpec]:
    """The server's instruments, from its REST API (ws://host/ws/v1/ -> http://host/api/)."""
    base = http_base(server)
    try:
        with urllib.request.urlopen(f"{base}/api/instruments/", timeout=10) as answer:  # noqa: S310
            rows = json.loads(answer.read())
    except (urllib.error.URLError, OSError, ValueError) as exc:
        raise StrategyError(f"cannot read the instruments of {base}: {exc}") from None
    return [
        InstrumentSpec(
            r["symbol"],
            r["name"],
            InstrumentKind(r["kind"]),
            r["quote_currency"],
            parse_decimal(r["tick_size"]),
            parse_decimal(r["quantity_step"]),
        )  # fmt: skip
        for r in rows
    ]


def paper(options: argparse.Namespace, out: TextIO) -> Any:
    from tickstream.strategy.paper import Paper

    made = _made(options)
    symbol, strategy, interval, indicators = (
        made.symbol,
        made.strategy,
        made.interval,
        made.indicators,
    )
    specs = server_instruments(options.server)
    if symbol not in {s.symbol for s in specs}:
        raise StrategyError(f"{options.server} does not trade {symbol}")
    runner = Paper(
        strategy, url=options.server, token=options.token, symbols=[symbol],
        instruments=specs, intervals=[interval], indicators=indicators,
    )  # fmt: skip

    async def go() -> Any:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(signal.SIGINT, runner.stop)
            loop.add_signal_handler(signal.SIGTERM, runner.stop)
        return await runner.run(duration_s=options.duration)

    try:
        run = asyncio.run(go())
    except (OSError, PermissionError, ConnectionError) as exc:
        raise StrategyError(f"paper trading on {options.server}: {exc}") from None
    start = run.equity[0][1] if run.equity else Decimal(0)
    kind = next(s.kind for s in specs if s.symbol == symbol)
    f = figures(
        equity=run.equity, fills=run.fills, start=start, first_ns=runner.first_ns,
        last_ns=runner.now_ns or None, market=kind.value,
    )  # fmt: skip
    quote = next(s.quote_currency for s in specs if s.symbol == symbol)
    summary(f, runner.trades_told, len(run.rejected), quote, out)
    if run.reaction_ms:
        ordered = sorted(run.reaction_ms)
        out.write(f"reaction in this client (trade received -> order sent): median "
                  f"{ordered[len(ordered) // 2]:.1f} ms over {len(ordered)} orders\n")  # fmt: skip
    if run.error:
        out.write(f"stopped: {run.error}\n")
    if options.fills:
        write_fills(options.fills, run.fills)
    if options.save:
        record = record_from_paper(
            runner, mode="paper", strategy=made.cls.__name__, source=str(options.strategy),
            params=made.params, data=options.server,
        )  # fmt: skip
        out.write(f"stored as run {_upload(options.server, options.token, record)}\n")
    return run


def _upload(server: str, token: str, record: RunRecord) -> int:
    """POST a run to the server's `/api/strategies/runs/`; its id there."""
    base = http_base(server)
    body = json.dumps(record_json(record)).encode()
    request = urllib.request.Request(  # noqa: S310 - the server the user named
        f"{base}/api/strategies/runs/",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Token {token}"},
    )
    try:
        with urllib.request.urlopen(request, timeout=30) as answer:  # noqa: S310
            return int(json.loads(answer.read())["id"])
    except urllib.error.HTTPError as exc:
        raise StrategyError(f"the server refused the run: {exc.read().decode()[:500]}") from None
    except (urllib.error.URLError, OSError, ValueError, KeyError) as exc:
        raise StrategyError(f"cannot store the run on {base}: {exc}") from None


def _common(command: argparse.ArgumentParser) -> None:
    command.add_argument("strategy", help="the strategy's Python file")
    command.add_argument("--symbol", required=True)
    command.add_argument("--class", dest="strategy_class", default=None)
    command.add_argument("--param", action="append", default=[], help="key=value, repeatable")
    command.add_argument("--interval", default="1d", help="the candle interval kept (default 1d)")
    command.add_argument(
        "--indicators", default=None, help="indicator specs kept (default: the strategy's own)"
    )
    command.add_argument("--fills", default=None, help="write every fill to this CSV")


def main(args: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tickstream strategy")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("backtest", help="a strategy on a price file")
    _common(run)
    run.add_argument(
        "--data",
        required=True,
        help="a price file (trades or OHLCV bars), or `stored`: the server database's history",
    )
    run.add_argument("--from", dest="start", default=None, help="ISO date or time (UTC)")
    run.add_argument("--to", dest="end", default=None, help="ISO date or time (UTC), excluded")
    run.add_argument("--cash", default="100000")
    run.add_argument("--currency", default="USD")
    run.add_argument("--step", default="1", help="the quantity step (default 1)")
    run.add_argument(
        "--latency-ms",
        default=DEFAULT_LATENCY_MS,
        help="an order's way to the venue, in simulated time (default: paper trading's, "
        f"{DEFAULT_LATENCY_MS} ms)",
    )
    run.add_argument("--json", default=None, help="write the whole run to this JSON file")
    run.add_argument("--save", action="store_true", help="store the run (the strategies page)")
    run.add_argument("--owner", default=None, help="with --save: the user whose run it is")
    live = commands.add_parser("paper", help="a strategy on a server's paper venue")
    _common(live)
    live.add_argument("--server", required=True, help="ws://HOST:PORT/ws/v1/")
    live.add_argument("--token", required=True, help="an API token (the token page)")
    live.add_argument("--duration", type=float, default=None, help="seconds, else until Ctrl-C")
    live.add_argument("--save", action="store_true", help="store the run on the server")
    options = parser.parse_args(args)
    try:
        if options.command == "backtest":
            backtest(options, sys.stdout)
        else:
            paper(options, sys.stdout)
    except StrategyError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
    return 0
