"""`python -m tickstream analyze` on real files, checked against TA-Lib."""

from __future__ import annotations

import csv
import io
import math
import subprocess
import sys

import numpy as np
import talib

from tests.conftest import DOCUMENTED_COLUMNS, fixture_path
from tests.support import ROOT


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tickstream", "analyze", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_analyze_writes_candles_and_talib_equal_indicators() -> None:
    path = fixture_path("mplfinance", "yahoofinance-AAPL-20040819-20180120.csv")
    result = _run(
        str(path),
        "--indicators",
        "sma:30,ema:30,rsi:14,macd:12:26:9,bbands:20:2,atr:14,wma:30,vwap",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert list(rows[0]) == ["time", "open", "high", "low", "close", "volume", *DOCUMENTED_COLUMNS]
    assert len(rows) == 3379
    assert rows[0]["time"] == "2004-08-19T00:00:00Z" and rows[0]["sma_30"] == ""
    with path.open() as handle:
        source = next(csv.DictReader(handle))
    assert [rows[0][k] for k in ("open", "high", "low", "close", "volume")] == [
        source[k] for k in ("Open", "High", "Low", "Close", "Volume")
    ]
    c = np.array([float(r["close"]) for r in rows])
    h = np.array([float(r["high"]) for r in rows])
    lo = np.array([float(r["low"]) for r in rows])
    macd, signal, hist = talib.MACD(c, 12, 26, 9)
    upper, mid, lower = talib.BBANDS(c, 20, 2, 2, 0)
    refs = {
        "sma_30": talib.SMA(c, 30),
        "ema_30": talib.EMA(c, 30),
        "rsi_14": talib.RSI(c, 14),
        "macd_12_26_9": macd,
        "macd_signal_12_26_9": signal,
        "macd_hist_12_26_9": hist,
        "bb_mid_20_2": mid,
        "bb_upper_20_2": upper,
        "bb_lower_20_2": lower,
        "atr_14": talib.ATR(h, lo, c, 14),
        "wma_30": talib.WMA(c, 30),
    }
    for name, ref in refs.items():
        scale = float(np.nanmax(np.abs(ref)))
        for row, expected in zip(rows, ref, strict=True):
            if math.isnan(expected):
                assert row[name] == "", name
            else:
                assert math.isclose(
                    float(row[name]), expected, rel_tol=1e-6, abs_tol=1e-9 * scale
                ), (name, row["time"])


def test_analyze_resamples_to_a_larger_interval() -> None:
    result = _run(
        str(fixture_path("mplfinance", "SP500_NOV2019_IDay.csv")),
        "--interval",
        "1h",
        "--indicators",
        "sma:2",
    )
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    first = rows[0]
    assert first["time"] == "2019-11-05T09:00:00Z"
    assert first["open"] == "3080.8"  # the 09:30 bar's open starts the 09:00 hour


def test_unreadable_file_fails_clearly(tmp_path: object) -> None:
    result = _run("/nonexistent/prices.csv")
    assert result.returncode == 2
    assert "error: cannot read /nonexistent/prices.csv" in result.stderr
    bad = _run(str(fixture_path("SOURCES.md")))
    assert bad.returncode == 2 and bad.stderr.startswith("error:")
    spec = _run(str(fixture_path("ta-lib-python", "ford_2012.csv")), "--indicators", "sma:x")
    assert spec.returncode == 2 and "period 'x'" in spec.stderr
