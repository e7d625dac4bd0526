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


@settings(max_examples=300, deadline=None)
@given(txs=histories(), method=st.sampled_from(list(Method)), data=st.data())
def test_a_change_anywhere_equals_a_whole_replay_of_the_changed_history(
    txs: list[Transaction], method: Method, data: st.DataObject
) -> None:
    """Taking back from the first transaction a change affects and applying again gives
    what a replay of the changed history gives; a refused change leaves it as it was."""
    kept = Replay.of(txs, method, keep_sales=True)
    gone = {t.ref for t in data.draw(st.lists(st.sampled_from(txs), max_size=3))}
    moved = data.draw(st.sampled_from(txs))
    added = [Transaction(moved.kind, moved.time + 1, moved.symbol, moved.quantity,
                         moved.price, moved.fee, "new")]  # fmt: skip
    if data.draw(st.booleans()):
        added = []
    after = [t for t in txs if t.ref not in gone] + added
    try:
        expected = compute(after, method)
    except InsufficientQuantity:
        with pytest.raises(InsufficientQuantity):
            kept.change(removed=gone, added=added)
        _same(kept, compute(txs, method))  # as it was
        assert kept.transactions == sorted(txs, key=Transaction.sort_key)
        return
    kept.change(removed=gone, added=added)
    _same(kept, expected)
    assert kept.transactions == sorted(after, key=Transaction.sort_key)
    start = min(day_of(t.time) for t in txs) - timedelta(days=1)
    end = max(day_of(t.time) for t in txs) + timedelta(days=1)
    assert values_from(kept.timeline, {}, start, end) == daily_values(after, {}, start, end)


def test_a_change_near_the_end_takes_back_only_what_follows_it() -> None:
    txs = [Transaction(Kind.BUY, t, "X", D(10), D(100 + t % 7), D(1), str(t)) for t in range(1000)]
    kept = Replay.of(txs, Method.HIFO)
    late = Transaction(Kind.SELL, 990, "X", D(5), D(120), ref="late")  # before the last 9
    assert kept.change(added=[late]) == 9
    assert kept.change(removed=["late"]) == 10  # itself and the 9 after it
    assert kept.change(removed=["3"]) == 1000  # early: a replay from the start is cheaper
    assert Basis.of(kept.book) == Basis.of(compute(txs[:3] + txs[4:], Method.HIFO))


def test_a_refused_transaction_changes_nothing() -> None:
    kept = Replay.of([Transaction(Kind.BUY, 1, "X", D(5), D(10), ref="1")], Method.HIFO)
    before = (Basis.of(kept.book), list(kept.transactions), list(kept.timeline.ends))
    with pytest.raises(InsufficientQuantity):
        kept.append(Transaction(Kind.SELL, 2, "X", D(6), D(10), ref="2"))
    assert (Basis.of(kept.book), kept.transactions, kept.timeline.ends) == before
    with pytest.raises(ValueError, match="not after"):
        kept.append(Transaction(Kind.BUY, 0, "X", D(1), D(10), ref="0"))
    assert kept.first_day == date(1970, 1, 1)


def test_a_change_before_the_kept_undo_records_is_a_replay_from_the_start(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from tickstream.portfolio.core import replay as module

    monkeypatch.setattr(module, "UNDO", 4)
    txs = [Transaction(Kind.BUY, t, "X", D(1), D(10 + t), ref=str(t)) for t in range(20)]
    kept = Replay.of(txs, Method.FIFO)
    assert kept.change(removed=["17"]) == 3  # within the last 4: taken back
    assert kept.change(removed=["12"]) == 19  # before them: all of it, replayed
    assert kept.change(removed=["18"]) == 2  # the replay keeps undo records again
    rest = [t for t in txs if t.ref not in ("12", "17", "18")]
    assert Basis.of(kept.book) == Basis.of(compute(rest, Method.FIFO))
