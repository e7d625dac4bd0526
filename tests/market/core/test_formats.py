"""Price files in the formats people have; broken rows are reported, never guessed."""

from __future__ import annotations

import gzip
from decimal import Decimal
from pathlib import Path

import pytest

from tests.conftest import fixture_path, shared_data
from tickstream.market.core.formats import (
    BarRecord,
    PriceFileError,
    bar_path,
    parse_time,
    read_price_file,
)
from tickstream.market.core.ticks import NS_PER_S

D = Decimal
DAY = 86_400 * NS_PER_S


def test_yahoo_daily_csv() -> None:
    prices = read_price_file(fixture_path("mplfinance", "yahoofinance-SPY-20200901-20210113.csv"))
    assert prices.kind == "bars" and len(prices) == 92 and not prices.problems
    first = prices.bars[0]
    assert first.ts == parse_time("2020-09-01")
    assert (first.open, first.close, first.volume) == (
        D("350.209991"),
        D("352.600006"),
        D("54999300"),
    )
    assert prices.bar_duration() == DAY


def test_intraday_csv_with_columns_in_another_order() -> None:
    prices = read_price_file(fixture_path("mplfinance", "SP500_NOV2019_IDay.csv"))
    bar = prices.bars[0]  # Date,Open,Close,High,Low,Volume: 11/5/2019 9:30,3080.8,3080.49,...
    assert bar.ts == parse_time("2019-11-05T09:30:00Z")
    assert (bar.open, bar.high, bar.low, bar.close) == (
        D("3080.8"),
        D("3081.47"),
        D("3080.3"),
        D("3080.49"),
    )
    assert prices.bar_duration() == 60 * NS_PER_S


def test_newest_first_files_are_sorted() -> None:
    prices = read_price_file(fixture_path("mplfinance", "jpyusd_barchartdotcom.csv"))
    stamps = [b.ts for b in prices.bars]
    assert stamps == sorted(stamps)


def test_json_candles_and_gzip(tmp_path: Path) -> None:
    path = tmp_path / "c.json.gz"
    path.write_bytes(
        gzip.compress(b"[[1570752000000, 0.00141342, 0.00141557, 0.00141266, 0.00141418, 1482.0]]")
    )
    prices = read_price_file(path)
    assert prices.bars == [
        BarRecord(
            1570752000000 * 10**6,
            D("0.00141342"),
            D("0.00141557"),
            D("0.00141266"),
            D("0.00141418"),
            D("1482.0"),
        )
    ]


def test_json_trades_freqtrade_layout(tmp_path: Path) -> None:
    path = tmp_path / "t.json"
    path.write_text('[[1570752011620, "13519807", null, "sell", 0.00141342, 23.0, 0.0325]]')
    trade = read_price_file(path).trades[0]
    assert (trade.price, trade.size, trade.trade_id) == (D("0.00141342"), D("23.0"), "13519807")


def test_headerless_trades_csv_in_epoch_seconds(tmp_path: Path) -> None:
    path = tmp_path / "kraken.csv"
    path.write_text("1381095255,122.00000,0.10000000\n1381179030,123.61000,0.10000000\n")
    prices = read_price_file(path)
    assert prices.kind == "trades"
    assert prices.trades[0].ts == 1381095255 * NS_PER_S


def test_trades_csv_with_header_and_ids(tmp_path: Path) -> None:
    path = tmp_path / "trades.csv"
    path.write_text("timestamp,id,price,amount\n2023-02-02T00:00:01.5Z,7,1.5,2\n")
    trade = read_price_file(path).trades[0]
    assert (trade.ts, trade.trade_id) == (parse_time("2023-02-02T00:00:01.500Z"), "7")


def test_bad_rows_are_reported_with_their_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(
        "Date,Open,High,Low,Close,Volume\n"
        "2024-01-02,10,11,9,10.5,100\n"
        "2024-01-03,null,null,null,null,null\n"
        "2024-01-04,10,9,11,10,100\n"  # high below low
        "not a date,10,11,9,10,100\n"
        "2024-01-05,10,11,9,NaN,100\n"
        "2024-01-08,10,11,9,10,-5\n"
        "2024-01-09,10,11,9,10.2,100\n"
    )
    prices = read_price_file(path)
    assert len(prices.bars) == 2
    assert [p.split(":")[0] for p in prices.problems] == [
        "row 2",
        "row 3",
        "row 4",
        "row 5",
        "row 6",
    ]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "empty"),
        ("a,b,c\n1,2,3\n", "no date/time column"),
        ("date,foo\n2024-01-01,1\n", "neither"),
        ("[1, 2", "invalid JSON"),
        ("[]", "non-empty list"),
        ("date,open,high,low,close\nx,y,z,w,v\n", "no readable prices"),
    ],
)
def test_unreadable_files_raise_a_clear_error(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "f.csv"
    path.write_text(content)
    with pytest.raises(PriceFileError, match=message):
        read_price_file(path)


def test_missing_and_binary_files(tmp_path: Path) -> None:
    with pytest.raises(PriceFileError, match="cannot read"):
        read_price_file(tmp_path / "absent.csv")
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\xff\xfe\x00\x01")
    with pytest.raises(PriceFileError, match="not a text file"):
        read_price_file(binary)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02", "2024-01-02T00:00:00+00:00"),
        ("2024-01-02 03:04:05", "2024-01-02T03:04:05+00:00"),
        ("2024-01-02T03:04:05+02:00", "2024-01-02T01:04:05+00:00"),
        ("1/2/2024 3:04", "2024-01-02T03:04:00+00:00"),
        ("14-Dec-09", "2009-12-14T00:00:00+00:00"),
        ("1704164645", "2024-01-02T03:04:05+00:00"),
        ("1704164645000", "2024-01-02T03:04:05+00:00"),
        ("1704164645000000000", "2024-01-02T03:04:05+00:00"),
    ],
)
def test_time_formats(text: str, expected: str) -> None:
    from datetime import datetime

    assert parse_time(text) == parse_time(datetime.fromisoformat(expected).isoformat())


def test_bar_path_visits_extremes_in_order_and_keeps_volume() -> None:
    up = BarRecord(0, D("10"), D("12"), D("9"), D("11"), D("1001"))
    path = list(bar_path(up, DAY))
    assert [p for _, p, _ in path] == [D("10"), D("9"), D("12"), D("11")]
    assert sum(s for _, _, s in path) == D("1001")
    assert [t for t, _, _ in path] == [0, DAY // 4, DAY // 2, 3 * DAY // 4]
    down = BarRecord(0, D("10"), D("12"), D("9"), D("9.5"), D("0.3"))
    assert [p for _, p, _ in bar_path(down, DAY)] == [D("10"), D("12"), D("9"), D("9.5")]
    assert sum(s for _, _, s in bar_path(down, DAY)) == D("0.3")


@pytest.mark.parametrize(
    "name",
    ["2006-min-005.txt", "2006-01-02-volume-min-001.txt", "orcl-1995-2014.txt", "ticksample.csv"],
)
def test_backtrader_files(name: str) -> None:
    """GPL data sets (read from ../shared/data when present) in backtrader's layouts."""
    prices = read_price_file(shared_data("backtrader", name))
    assert len(prices) > 10
    assert len(prices.problems) == 0, prices.problems[:3]
