"""`python -m tickstream strategy backtest|paper`: a strategy file on a price file, or on a
server's paper venue, summarised and exported."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.stream.conftest import Market, serve, until
from tests.stream.conftest import market as market  # the live market, embedded
from tests.trading.conftest import funded
from tests.trading.conftest import venue as venue  # the matching hook on the test's pipeline
from tickstream.trading.hook import MatchingHook

ROOT = Path(__file__).parents[2]
DATA = ROOT / "tests" / "fixtures" / "mplfinance" / "yahoofinance-SPY-20200901-20210113.csv"
EXAMPLE = ROOT / "tickstream" / "strategy" / "examples" / "sma_crossover.py"


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickstream", "strategy", "backtest", *args],
        capture_output=True, text=True, cwd=ROOT, timeout=120,
    )  # fmt: skip


def test_a_strategy_file_is_backtested_and_its_fills_written(tmp_path: Path) -> None:
    fills = tmp_path / "fills.csv"
    done = _cli(
        str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY",
        "--param", "fast=5", "--param", "slow=15", "--fills", str(fills),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    summary = dict(
        (line[:32].strip(), line[32:].strip()) for line in done.stdout.splitlines() if line
    )
    assert summary["trades played"] == "368"  # 92 daily bars, four trades each
    rows = list(csv.DictReader(fills.read_text().splitlines()))
    assert int(summary["fills"]) == len(rows) > 0
    assert [r["side"] for r in rows][:2] == ["buy", "sell"][: len(rows[:2])]
    assert summary["total return"].endswith("%")


def test_mistakes_are_named() -> None:
    for args, problem in [
        ((str(EXAMPLE), "--data", "/no/such.csv", "--symbol", "SPY"), "cannot read /no/such.csv"),
        (("/no/such.py", "--data", str(DATA), "--symbol", "SPY"), "no file /no/such.py"),
        ((str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY", "--param", "fast=30"),
         "fast must be shorter than slow"),
        ((str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY", "--param", "x"), "use key=value"),
        ((str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY", "--interval", "7m"), "7m"),
    ]:  # fmt: skip
        done = _cli(*args)
        assert done.returncode == 2 and problem in done.stderr, (args, done.stderr)


def test_a_run_is_exported_as_json(tmp_path: Path) -> None:
    out = tmp_path / "run.json"
    done = _cli(str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY", "--param", "fast=5",
                "--param", "slow=15", "--json", str(out), "--latency-ms", "0")  # fmt: skip
    assert done.returncode == 0, done.stderr
    run = json.loads(out.read_text())
    assert run["trades"] == 368 and len(run["checksum"]) == 64
    assert run["figures"]["fills"] == len(run["fills"]) > 0
    assert run["setup"]["latency_ms"] == "0" and run["equity"][0][1] == "100000"


@pytest.mark.django_db(transaction=True)
async def test_a_strategy_file_paper_trades_on_a_server(
    market: Market, venue: MatchingHook, tmp_path: Path, settings: Any
) -> None:
    from tests.strategy.test_host import BUYER

    settings.STREAM_FLUSH_MS = 0
    (tmp_path / "buyer.py").write_text(BUYER)
    user, key, _ = await database_sync_to_async(funded)("10000")
    async with serve() as host:
        child = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "tickstream", "strategy", "paper", str(tmp_path / "buyer.py"),
            "--server", f"ws://{host}/ws/v1/", "--token", key, "--symbol", "AAPL",
            "--interval", "1m", "--duration", "6", "--fills", str(tmp_path / "fills.csv"), "--save",
            cwd=ROOT, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        await until(lambda: venue.engine is not None, 5)
        # Trades until the client's orders rest at the engine, then one through the limit.
        async with asyncio.timeout(30):
            while len(venue.engine.orders) < 2:  # type: ignore[union-attr]
                market.trade("AAPL", "200")
                await asyncio.sleep(0.2)
        market.trade("AAPL", "200.5", size="5")
        out, err = await asyncio.wait_for(child.communicate(), 30)
    assert child.returncode == 0, err.decode()
    text = out.decode()
    assert "Sharpe" in text and "reaction in this client" in text
    rows = list(csv.DictReader((tmp_path / "fills.csv").read_text().splitlines()))
    assert [(r["side"], r["liquidity"]) for r in rows] == [("buy", "taker")]
    assert venue.engine is not None and venue.engine.orders == {}  # stopped: none left open
    # Stored on the server as the token's user's run, its figures computed there.
    from tickstream.strategy.models import StrategyRun

    run = await database_sync_to_async(StrategyRun.objects.get)(owner=user)
    assert f"stored as run {run.pk}" in text and run.mode == "paper"
    assert [f["price"] for f in run.fills] == [r["price"] for r in rows]
    assert run.figures["fills"] == 1 and run.strategy == "Buyer"


def test_a_backtest_plays_only_the_range_asked_for() -> None:
    done = _cli(str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY", "--param", "fast=3",
                "--param", "slow=5", "--from", "2020-10-01", "--to", "2020-11-01")  # fmt: skip
    assert done.returncode == 0, done.stderr
    played = next(line for line in done.stdout.splitlines() if line.startswith("trades played"))
    assert played.split()[-1] == str(22 * 4)  # October 2020's 22 trading days, 4 trades each
    bad = _cli(str(EXAMPLE), "--data", str(DATA), "--symbol", "SPY", "--from", "October")
    assert bad.returncode == 2 and "--from 'October'" in bad.stderr


@pytest.mark.django_db
def test_a_backtest_plays_the_stored_history(instruments: None, capsys: Any) -> None:
    from datetime import UTC, datetime, timedelta

    from tickstream.market.models import Candle, Instrument
    from tickstream.strategy.cli import main

    aapl = Instrument.objects.get(symbol="AAPL")
    start = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
    for n in range(120):  # two hours of minutes: down, up, down
        price = Decimal(200 - n if n < 30 else 140 + n if n < 75 else 290 - n)
        Candle.objects.create(
            instrument=aapl, interval="1m", start=start + timedelta(minutes=n), open=price,
            high=price + 1, low=price - 1, close=price, volume=100, trades=4, closed=True,
        )  # fmt: skip
    code = main(["backtest", str(EXAMPLE), "--data", "stored", "--symbol", "AAPL",
                 "--interval", "1m", "--param", "fast=3", "--param", "slow=8",
                 "--from", "2026-03-02T14:30", "--to", "2026-03-02T16:00"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 0, out
    rows = dict((line[:32].strip(), line[32:].strip()) for line in out.splitlines() if line)
    assert rows["trades played"] == str(90 * 4)  # 90 minutes of the 120 asked for
    assert int(rows["fills"]) == 2, out  # bought on the way up, sold on the way down
