"""Candles: built right from ticks, equal to the exchange's own, and to replayed bars."""

from __future__ import annotations

import gzip
import json
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import fixture_path, shared_data
from tickstream.market.core.analytics.candles import Candle, CandleBuilder
from tickstream.market.core.analytics.intervals import (
    STANDARD_INTERVALS,
    IntervalError,
    parse_interval,
)
from tickstream.market.core.analytics.state import SymbolState
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.formats import read_price_file
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.replay import file_trades

S = 10**9
D = Decimal


def test_builder_folds_ticks_and_closes_on_the_next_bucket() -> None:
    builder = CandleBuilder(parse_interval("1m"))
    assert builder.update(0, D("10"), D("1")) is None
    assert builder.update(20 * S, D("12"), D("2")) is None
    assert builder.update(40 * S, D("9"), D("3")) is None
    assert builder.update(59 * S, D("11"), D("1")) is None
    closed = builder.update(61 * S, D("11.5"), D("5"))
    assert closed is not None
    assert (closed.start, closed.open, closed.high, closed.low, closed.close) == (
        0,
        D("10"),
        D("12"),
        D("9"),
        D("11"),
    )
    assert (closed.volume, closed.trades) == (D("7"), 4)
    assert builder.forming is not None and builder.forming.start == 60 * S
    # An empty minute makes no candle: the next trade 3 minutes later closes 1:00 only.
    later = builder.update(245 * S, D("13"), D("1"))
    assert later is not None and later.start == 60 * S
    assert builder.forming.start == 240 * S


@pytest.mark.parametrize("name", ["1s", "1m", "5m", "15m", "1h", "1d", "4h", "30s"])
def test_interval_buckets_align_to_utc(name: str) -> None:
    interval = parse_interval(name)
    ts = 1_700_000_123_456_789_000
    start = interval.bucket(ts)
    assert start <= ts < start + interval.ns
    assert start % interval.ns == 0


@pytest.mark.parametrize("name", ["7m", "0m", "1w", "", "m1", "25h"])
def test_unsupported_intervals_are_refused(name: str) -> None:
    with pytest.raises(IntervalError):
        parse_interval(name)


REPLAY_FILES = [
    ("mplfinance", "yahoofinance-SPY-20200901-20210113.csv", "1d"),
    ("mplfinance", "yahoofinance-AAPL-20040819-20180120.csv", "1d"),
    ("mplfinance", "SP500_NOV2019_IDay.csv", "1m"),
    ("mplfinance", "jpyusd_barchartdotcom.csv", "1d"),
    ("ta-lib-python", "ford_2012.csv", "1d"),
]


def _engine(interval: str, symbol: str = "X") -> MarketEngine:
    spec = InstrumentSpec(symbol, symbol, InstrumentKind.STOCK, tick_size=D("1e-10"))
    return MarketEngine([spec], [parse_interval(interval)], [], max_delay_s=None)


@pytest.mark.parametrize(("folder", "name", "interval"), REPLAY_FILES)
def test_replayed_bars_rebuild_exactly(folder: str, name: str, interval: str) -> None:
    """The replay feed's intra-bar path rebuilds every source bar exactly."""
    prices = read_price_file(fixture_path(folder, name))
    engine = _engine(interval)
    rebuilt = []
    for ts, price, size, trade_id in file_trades(prices):
        update = engine.process(Tick("X", price, size, ts, ts, "replay", trade_id), live=False)
        assert not hasattr(update, "reason"), update
        rebuilt.extend(c.candle for c in update.closed)  # type: ignore[union-attr]
    rebuilt.extend(c.candle for _, c in engine.finish())
    assert len(rebuilt) == len(prices.bars)
    for bar, candle in zip(prices.bars, rebuilt, strict=True):
        assert (candle.start, candle.open, candle.high, candle.low, candle.close) == (
            bar.ts,
            bar.open,
            bar.high,
            bar.low,
            bar.close,
        )
        assert candle.volume == bar.volume


def _binance_frames(path: Path) -> tuple[list[dict], list[dict]]:
    trades, klines = [], []
    for line in path.read_text().splitlines():
        head, sep, body = line.partition(": ")
        if not sep or not body.startswith("{"):
            continue
        data = json.loads(body).get("data", {})
        if data.get("e") == "aggTrade":
            trades.append(data)
        elif data.get("e") == "kline":
            klines.append(data["k"])
    return trades, klines


def test_candles_from_real_binance_trades_equal_binance_klines() -> None:
    """Recorded Binance aggTrade frames, folded into 1m candles, equal the kline frames
    recorded beside them, for every kline whose trades were all captured."""
    compared = 0
    for name in ("BINANCE.ws.1.0", "BINANCE_US.ws.1.0"):
        trades, klines = _binance_frames(fixture_path("cryptofeed", name))
        for k in klines:
            mine = [t for t in trades if t["s"] == k["s"] and k["f"] <= t["f"] and t["l"] <= k["L"]]
            covered = {i for t in mine for i in range(t["f"], t["l"] + 1)}
            if covered != set(range(k["f"], k["L"] + 1)):
                continue  # the kline began before the recording started
            builder = CandleBuilder(parse_interval("1m"))
            for t in sorted(mine, key=lambda t: t["f"]):
                builder.update(t["T"] * 10**6, D(t["p"]), D(t["q"]))
            candle = builder.forming
            assert candle is not None
            assert candle.start == k["t"] * 10**6
            assert (candle.open, candle.high, candle.low, candle.close, candle.volume) == (
                D(k["o"]),
                D(k["h"]),
                D(k["l"]),
                D(k["c"]),
                D(k["v"]),
            )
            compared += 1
    assert compared >= 2, "the recordings hold two fully captured klines"


def test_binance_kline_updates_advance_by_the_trades_between_them() -> None:
    """For klines that began before the recording: between two updates of one kline, the
    volume grows by the captured trades' sizes and the close is the last trade's price."""
    checked = 0
    for name in ("BINANCE.ws.1.0", "BINANCE_US.ws.1.0"):
        trades, klines = _binance_frames(fixture_path("cryptofeed", name))
        by_id = {t["l"]: t for t in trades}
        previous: dict[tuple[str, int], dict] = {}
        for k in klines:
            key = (k["s"], k["t"])
            before = previous.get(key)
            previous[key] = k
            if before is None or before["L"] == k["L"]:
                continue
            between = [
                t for t in trades if t["s"] == k["s"] and before["L"] < t["f"] and t["l"] <= k["L"]
            ]
            builder = CandleBuilder(parse_interval("1m"))
            for t in sorted(between, key=lambda t: t["f"]):
                builder.update(t["T"] * 10**6, D(t["p"]), D(t["q"]))
            assert builder.forming is not None
            assert D(k["v"]) - D(before["v"]) == builder.forming.volume
            assert D(k["c"]) == builder.forming.close == D(by_id[k["L"]]["p"])
            assert D(k["h"]) == max(D(before["h"]), builder.forming.high)
            assert D(k["l"]) == min(D(before["l"]), builder.forming.low)
            checked += 1
    assert checked >= 2


def test_candles_from_real_trades_equal_freqtrade_binance_candles() -> None:
    """12,477 real Binance XRP/ETH trades against the exchange's 1m candles (GPL data set,
    read from ../shared/data when present)."""
    trades = json.loads(
        gzip.decompress(shared_data("freqtrade", "XRP_ETH-trades.json.gz").read_bytes())
    )
    candles = json.loads(shared_data("freqtrade", "XRP_ETH-1m.json").read_text())
    engine = _engine("1m", "XRP-ETH")
    built = {}
    for ms, trade_id, _order, _side, price, amount, _cost in trades:
        update = engine.process(
            Tick(
                "XRP-ETH",
                D(repr(price)),
                D(repr(amount)),
                ms * 10**6,
                ms * 10**6,
                "binance",
                trade_id,
            ),
            live=False,
        )
        for c in update.closed:  # type: ignore[union-attr]
            built[c.candle.start // 10**6] = c.candle
    for _, c in engine.finish():
        built[c.candle.start // 10**6] = c.candle
    compared = 0
    for ms, o, h, low, c, v in candles:
        if v == 0:
            continue  # freqtrade fills empty minutes with flat candles; no trades, no candle
        candle = built.get(ms)
        if candle is None:
            continue  # outside the trades' time span
        assert (float(candle.open), float(candle.high), float(candle.low), float(candle.close)) == (
            o,
            h,
            low,
            c,
        ), ms
        assert float(candle.volume) == pytest.approx(v, rel=1e-9), ms
        compared += 1
    assert compared > 1000


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 90 * S),  # a step forward (or none) in time
            st.decimals(D("0.01"), D("999"), places=2),
            st.decimals(D("0"), D("50"), places=3),
        ),
        min_size=1,
        max_size=120,
    )
)
def test_the_state_builds_each_intervals_candles_as_a_builder_alone(
    steps: list[tuple[int, Decimal, Decimal]],
) -> None:
    """SymbolState extends forming candles inline (its hot path); a CandleBuilder per
    interval fed the same trades must give the same candles, forming and closed."""
    state = SymbolState("X", STANDARD_INTERVALS, [])
    builders = {i.name: CandleBuilder(i) for i in STANDARD_INTERVALS}
    closed_by_state: list[tuple[str, Candle]] = []
    closed_alone: list[tuple[str, Candle]] = []
    ts = 1_700_000_000 * S
    for step, price, size in steps:
        ts += step
        closed_by_state += [(c.interval.name, c.candle) for c in state.apply(ts, price, size)]
        for name, builder in builders.items():
            candle = builder.update(ts, price, size)
            if candle is not None:
                closed_alone.append((name, candle))
    assert sorted(closed_by_state, key=repr) == sorted(closed_alone, key=repr)
    for series in state.series:
        assert series.builder.forming == builders[series.interval.name].forming
