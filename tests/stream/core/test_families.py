"""Property tests of each family of the fan-out on its own (`views.py`, `sequenced.py`,
`derived.py`): what each returns, without the router around it."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from tests.stream.core.test_derived import Sum
from tickstream.stream.core.derived import DerivedValues
from tickstream.stream.core.protocol import ChannelKind, ChannelRef
from tickstream.stream.core.sequenced import Sequencer
from tickstream.stream.core.views import SymbolView, v1_since

STATS = ("duplicates", "reordered", "published_gaps")


def _message(seq: int) -> dict[str, Any]:
    return {"group": "g", "seq": seq, "data": seq}


@given(
    st.integers(1, 30).flatmap(
        lambda n: st.tuples(
            st.just(n),
            st.permutations(range(1, n + 1)),
            st.lists(st.integers(1, n), max_size=10),  # duplicates, anywhere
            st.sets(st.integers(1, n)),  # lost by the broker: only the log has them
        )
    )
)
def test_sequenced_emits_every_number_once_in_order_whatever_the_broker_does(
    case: tuple[int, list[int], list[int], set[int]],
) -> None:
    n, order, repeats, lost = case
    sequencer = Sequencer(dict.fromkeys(STATS, 0))
    sequencer.starting("g")
    out, _ = sequencer.start("g", 0)
    arrivals = [s for s in order if s not in lost] + repeats
    fills = 0
    for seq in arrivals:
        ready, fill = sequencer.accept(_message(seq))
        out += ready
        fills += fill
        if fill:  # the driver reads the log at once
            before, gap, after = sequencer.fill("g", [_message(s) for s in range(1, n + 1)])
            out += before + after
            assert gap is None  # the log holds everything
    before, gap, after = sequencer.fill("g", [_message(s) for s in range(1, n + 1)])
    out += before + after
    assert [m["seq"] for m in out] == list(range(1, n + 1))
    assert sequencer.last("g") == n


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["k1", "k2", "k3"]),
            st.one_of(
                st.just(None),  # remove the value
                st.sets(st.sampled_from("ABCDE"), min_size=1),  # add, or change its symbols
            ),
        ),
        max_size=25,
    )
)
def test_derived_follows_exactly_the_symbols_of_its_values_and_releases_the_rest(
    steps: list[tuple[str, set[str] | None]],
) -> None:
    values = DerivedValues()
    followed: set[str] = set()
    for key, symbols in steps:
        if symbols is None:
            released = values.remove(key)
            follow: list[str] = []
        elif key in values:
            follow, released = values.apply(key, {"symbols": sorted(symbols)})
        else:
            follow, released = values.add(key, Sum(symbols)), []
        for symbol in follow:
            values.follow(key, symbol, {"last": "1"}, announce=False)
        followed = (followed | set(follow)) - set(released)
        wanted = set().union(*(v.symbols() for v in values.values.values()))
        assert followed == wanted  # nothing released that a value names, nothing kept else
        assert {s for s in "ABCDE" if values.followed(s)} == wanted


@given(st.integers(1, 60), st.integers(0, 70))
def test_views_a_resume_brings_exactly_what_was_missed_or_a_reset(trades: int, since: int) -> None:
    view = SymbolView("AAPL")
    view.apply_snapshot(
        {"epoch": 1, "seq": 0, "analysis_seq": 0, "quote": None, "candles": {}, "analysis": {}}
    )
    for seq in range(1, trades + 1):
        view.apply_tick(
            {"symbol": "AAPL", "epoch": 1, "seq": seq, "quote": {"last": seq},
             "trade": {"n": seq}, "candles": {}, "closed": []}
        )  # fmt: skip
    ref = ChannelRef.market(ChannelKind.TRADES, "AAPL")
    got = v1_since(ref, view, since)
    if since > trades:  # a number this view never gave
        assert [m["type"] for m in got] == ["snapshot"] and got[0]["reset"]
    else:
        assert [(m["seq"], m["data"]) for m in got] == [
            (s, {"n": s}) for s in range(since + 1, trades + 1)
        ]
