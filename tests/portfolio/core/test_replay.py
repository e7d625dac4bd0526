"""The kept replay: extended one transaction at a time it is exactly what a replay of the
whole history gives (book, sales, every day's value), and a refusal changes nothing."""

from __future__ import annotations

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.portfolio.core.test_costbasis import histories
from tickstream.portfolio.core.costbasis import (
    InsufficientQuantity,
    Kind,
    Method,
    Transaction,
    compute,
)
from tickstream.portfolio.core.history import daily_values, day_of, values_from
from tickstream.portfolio.core.replay import Replay
from tickstream.portfolio.core.valuation import Basis

D = Decimal


def _same(a: Replay | object, b: object) -> None:
    assert isinstance(a, Replay)
    assert Basis.of(a.book) == Basis.of(b)  # type: ignore[arg-type]
    assert a.book.sales == b.sales  # type: ignore[attr-defined]


@settings(max_examples=300, deadline=None)
@given(txs=histories(), method=st.sampled_from(list(Method)))
def test_appending_one_at_a_time_equals_a_whole_replay(
    txs: list[Transaction], method: Method
) -> None:
    ordered = sorted(txs, key=Transaction.sort_key)
    kept = Replay(method, keep_sales=True)
    for tx in ordered:
        assert kept.extends(tx)
        kept.append(tx)
    _same(kept, compute(txs, method))
    start = day_of(ordered[0].time) - timedelta(days=1)
    end = day_of(ordered[-1].time) + timedelta(days=2)
    closes = {"X": [(start + timedelta(days=1), D("7.5"))]}
    assert values_from(kept.timeline, closes, start, end) == daily_values(txs, closes, start, end)


@settings(max_examples=200, deadline=None)
@given(txs=histories(), method=st.sampled_from(list(Method)), data=st.data())
def test_a_change_anywhere_equals_a_whole_replay_of_the_changed_history(
    txs: list[Transaction], method: Method, data: st.DataObject
) -> None:
    kept = Replay.of(txs, method, keep_sales=True)
    gone = data.draw(st.sampled_from(txs)).ref
    rest = [t for t in txs if t.ref != gone]
    try:
        expected = compute(rest, method)
    except InsufficientQuantity:
        with pytest.raises(InsufficientQuantity):
            kept.changed(removed=[gone])
        return
    _same(kept.changed(removed=[gone]), expected)
    _same(kept, compute(txs, method))  # the kept one is as it was


def test_a_refused_transaction_changes_nothing() -> None:
    kept = Replay.of([Transaction(Kind.BUY, 1, "X", D(5), D(10), ref="1")], Method.HIFO)
    before = (Basis.of(kept.book), list(kept.transactions), list(kept.timeline.ends))
    with pytest.raises(InsufficientQuantity):
        kept.append(Transaction(Kind.SELL, 2, "X", D(6), D(10), ref="2"))
    assert (Basis.of(kept.book), kept.transactions, kept.timeline.ends) == before
    with pytest.raises(ValueError, match="not after"):
        kept.append(Transaction(Kind.BUY, 0, "X", D(1), D(10), ref="0"))
    assert kept.first_day == date(1970, 1, 1)
