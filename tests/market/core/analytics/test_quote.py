"""The session quote: change against the previous close, session stats, VWAP."""

from __future__ import annotations

from decimal import Decimal

from tickstream.market.core.analytics.quote import DAY_NS, Quote
from tickstream.market.core.messages import quote_dict

D = Decimal


def test_session_statistics_and_rollover() -> None:
    q = Quote("X", prev_close=D("100"))
    q.update(10, D("101"), D("10"))
    q.update(20, D("99"), D("30"))
    q.update(30, D("102"), D("20"))
    assert (q.open, q.high, q.low, q.last, q.volume, q.trades) == (
        D("101"),
        D("102"),
        D("99"),
        D("102"),
        D("60"),
        3,
    )
    assert q.change == D("2") and q.change_pct == D("2.0000")
    assert q.vwap == (D("101") * 10 + D("99") * 30 + D("102") * 20) / 60
    q.update(DAY_NS + 5, D("103"), D("1"))  # next UTC day: a new session
    assert (q.prev_close, q.open, q.high, q.low, q.volume, q.trades) == (
        D("102"),
        D("103"),
        D("103"),
        D("103"),
        D("1"),
        1,
    )
    assert q.change == D("1")


def test_without_a_previous_close_change_is_against_the_open() -> None:
    q = Quote("X")
    q.update(1, D("50"), D("1"))
    q.update(2, D("55"), D("1"))
    assert q.change == D("5") and q.change_pct == D("10.0000")
    wire = quote_dict(q)
    assert wire["last"] == "55" and wire["change"] == "5" and wire["change_pct"] == "10"
    assert wire["prev_close"] is None


def test_zero_volume_prints_have_no_vwap() -> None:
    q = Quote("IDX")
    q.update(1, D("3000.5"), D("0"))
    assert q.vwap is None and quote_dict(q)["vwap"] is None
