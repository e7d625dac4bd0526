"""`python -m tickstream strategy backtest`: a strategy file on a price file, summarised."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

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
