"""Indicators agree with TA-Lib on real price files, bar by bar, from TA-Lib's first output."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest
import talib

from tests.conftest import DOCUMENTED_COLUMNS, fixture_path
from tickstream.market.core.analytics.indicators import (
    Bar,
    IndicatorSpecError,
    SessionVWAP,
    parse_indicator,
    parse_indicators,
)
from tickstream.market.core.formats import read_price_file

FILES = [
    ("mplfinance", "yahoofinance-AAPL-20040819-20180120.csv"),  # 3,379 daily bars
    ("mplfinance", "yahoofinance-SPY-20200901-20210113.csv"),
    ("mplfinance", "SP500_NOV2019_IDay.csv"),  # 1-minute bars
    ("mplfinance", "jpyusd_barchartdotcom.csv"),  # prices near 0.0095
    ("ta-lib-python", "ford_2012.csv"),
]

Arrays = dict[str, np.ndarray]


def _bars(folder: str, name: str) -> list[Bar]:
    prices = read_price_file(fixture_path(folder, name))
    assert not prices.problems
    return [
        Bar(b.ts, float(b.open), float(b.high), float(b.low), float(b.close), float(b.volume))
        for b in prices.bars
    ]


def _arrays(bars: list[Bar]) -> Arrays:
    return {k: np.array([getattr(b, k) for b in bars]) for k in ("high", "low", "close")}


def _macd(a: Arrays, f: int, s: int, g: int) -> list[np.ndarray]:
    return list(talib.MACD(a["close"], f, s, g))


def _bbands(a: Arrays, n: int, k: float) -> list[np.ndarray]:
    upper, mid, lower = talib.BBANDS(a["close"], n, k, k, 0)
    return [mid, upper, lower]


REFERENCES: dict[str, Callable[[Arrays], list[np.ndarray]]] = {
    "sma:30": lambda a: [talib.SMA(a["close"], 30)],
    "sma:5": lambda a: [talib.SMA(a["close"], 5)],
    "ema:30": lambda a: [talib.EMA(a["close"], 30)],
    "ema:9": lambda a: [talib.EMA(a["close"], 9)],
    "wma:30": lambda a: [talib.WMA(a["close"], 30)],
    "wma:10": lambda a: [talib.WMA(a["close"], 10)],
    "rsi:14": lambda a: [talib.RSI(a["close"], 14)],
    "rsi:2": lambda a: [talib.RSI(a["close"], 2)],
    "atr:14": lambda a: [talib.ATR(a["high"], a["low"], a["close"], 14)],
    "atr:5": lambda a: [talib.ATR(a["high"], a["low"], a["close"], 5)],
    "macd:12:26:9": lambda a: _macd(a, 12, 26, 9),
    "macd:5:35:5": lambda a: _macd(a, 5, 35, 5),
    "bbands:20:2": lambda a: _bbands(a, 20, 2.0),
    "bbands:10:1.5": lambda a: _bbands(a, 10, 1.5),
}


def _same(a: tuple[float | None, ...], b: tuple[float | None, ...]) -> bool:
    return all(
        (x is None and y is None)
        or (x is not None and y is not None and math.isclose(x, y, rel_tol=1e-12, abs_tol=1e-12))
        for x, y in zip(a, b, strict=True)
    )


def _assert_matches(mine: list[float | None], ref: np.ndarray, label: str) -> None:
    scale = float(np.nanmax(np.abs(ref)))
    first = int(np.argmax(~np.isnan(ref)))
    assert all(v is None for v in mine[:first]), f"{label}: values before TA-Lib's warm-up"
    for i in range(first, len(ref)):
        got = mine[i]
        assert got is not None, f"{label}: no value at bar {i}"
        assert math.isclose(got, ref[i], rel_tol=1e-6, abs_tol=1e-9 * scale), (
            f"{label} bar {i}: {got} != TA-Lib {ref[i]}"
        )


@pytest.mark.parametrize(("folder", "name"), FILES)
@pytest.mark.parametrize("text", sorted(REFERENCES))
def test_indicator_agrees_with_talib(folder: str, name: str, text: str) -> None:
    bars = _bars(folder, name)
    indicator = parse_indicator(text).build()
    outputs: list[list[float | None]] = [[] for _ in indicator.names]
    for bar in bars:
        peeked = indicator.peek(bar)
        values = indicator.update(bar)
        assert _same(peeked, values), f"peek {peeked} != update {values}"
        for column, value in zip(outputs, values, strict=True):
            column.append(value)
    for column, ref, out_name in zip(
        outputs, REFERENCES[text](_arrays(bars)), indicator.names, strict=True
    ):
        _assert_matches(column, ref, f"{name} {out_name}")


def test_talib_reference_series_closes() -> None:
    """TA-Lib's own 252-bar regression series (closes only)."""
    closes = [
        float(line.split(",")[1])
        for line in fixture_path("ta-lib-python", "talib_reference_series.csv")
        .read_text()
        .splitlines()[1:]
    ]
    arr = np.array(closes)
    for text, ref in [
        ("sma:20", talib.SMA(arr, 20)),
        ("ema:12", talib.EMA(arr, 12)),
        ("rsi:14", talib.RSI(arr, 14)),
        ("wma:7", talib.WMA(arr, 7)),
    ]:
        indicator = parse_indicator(text).build()
        mine = [indicator.update(Bar(i, c, c, c, c, 0.0))[0] for i, c in enumerate(closes)]
        _assert_matches(mine, ref, text)


def test_session_vwap_resets_each_utc_day() -> None:
    day = 86_400 * 10**9
    vwap = SessionVWAP()
    assert vwap.update(Bar(0, 10, 12, 8, 10, 100)) == (10.0,)
    (second,) = vwap.update(Bar(60 * 10**9, 10, 13, 10, 13, 300))
    assert second == pytest.approx((10 * 100 + 12 * 300) / 400)
    assert vwap.update(Bar(day, 20, 20, 20, 20, 5)) == (20.0,)  # new day: only its own bar
    assert SessionVWAP().update(Bar(0, 1, 1, 1, 1, 0)) == (None,)  # no volume: no price


def test_peek_is_the_value_if_the_forming_bar_closed_now() -> None:
    bars = _bars("mplfinance", "yahoofinance-SPY-20200901-20210113.csv")
    for text in REFERENCES:
        indicator = parse_indicator(text).build()
        for bar in bars[:-1]:
            indicator.update(bar)
        before = indicator.peek(bars[-1])
        assert indicator.peek(bars[-1]) == before, "peek must not change the state"
        assert _same(indicator.update(bars[-1]), before)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("foo:3", "unknown indicator"),
        ("sma:0", "whole number"),
        ("sma:x", "whole number"),
        ("sma:3:4", "takes 1"),
        ("bbands:20:-1", "positive"),
        ("bbands:20:nan", "positive"),
        ("rsi:1", "at least 2"),
        ("sma:5,sma:5", "listed twice"),
    ],
)
def test_bad_specs_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(IndicatorSpecError, match=message):
        parse_indicators(text)


def test_spec_names_follow_the_documented_columns() -> None:
    specs = parse_indicators("sma:30,ema:30,rsi:14,macd:12:26:9,bbands:20:2,atr:14,wma:30,vwap")
    assert [n for s in specs for n in s.names] == DOCUMENTED_COLUMNS
