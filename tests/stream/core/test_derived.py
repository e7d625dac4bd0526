"""Derived channels in the pure fan-out core: marked once per flush with the quotes that
moved, whole after a published change, views followed and released with the value."""

from __future__ import annotations

from typing import Any

from tickstream.stream.core.fanout import FanOut
from tickstream.stream.core.protocol import ChannelRef


class Sum:
    """A derived value: the sum of the last prices of some symbols."""

    def __init__(self, symbols: set[str]) -> None:
        self.names = set(symbols)
        self.prices: dict[str, str] = {}
        self.marks = 0

    def symbols(self) -> frozenset[str]:
        return frozenset(self.names)

    def mark_quote(self, symbol: str, quote: Any) -> bool:
        return self.mark_quotes({symbol: quote})

    def mark_quotes(self, quotes: dict[str, Any]) -> bool:
        self.marks += 1
        changed = False
        for symbol in self.names & set(quotes):
            if quotes[symbol] and self.prices.get(symbol) != quotes[symbol]["last"]:
                self.prices[symbol] = quotes[symbol]["last"]
                changed = True
        return changed

    def apply(self, change: Any) -> None:
        self.names = set(change["symbols"])

    def data(self) -> Any:
        return {"whole": sorted(self.prices.items())}

    def update(self) -> Any:
        return {"sum": sum(float(self.prices[s]) for s in self.names if s in self.prices)}


class Conn:
    wire = "v1"
    batch = True

    def backlog(self) -> int:
        return 0


def _view(core: FanOut, symbol: str, last: str) -> Any:
    view, _ = core.view(symbol)
    core.load(
        view,
        {
            "epoch": 1,
            "seq": 1,
            "analysis_seq": 0,
            "quote": {"last": last},
            "candles": {},
            "analysis": {},
        },
    )
    return view


def _tick(symbol: str, seq: int, last: str) -> dict[str, Any]:
    return {
        "symbol": symbol,
        "epoch": 1,
        "seq": seq,
        "quote": {"last": last},
        "trade": {},
        "candles": {},
        "closed": [],
    }


def _updates(out: list[Any]) -> list[Any]:
    import json

    return [m for _, frame in out for m in json.loads(frame) if m["type"] == "update"]


def test_marked_once_per_flush_and_released_with_the_value() -> None:
    core = FanOut()
    ref = ChannelRef("portfolio:1", "portfolio", key="1", public=False)
    value = Sum({"A", "B"})
    assert core.add_derived("g1", ref, value) == ["A", "B"]
    for symbol in ("A", "B"):
        core.follow("g1", _view(core, symbol, "1"), announce=False)
    conn = Conn()
    core.add(conn, ref, "g1")
    assert core.derived_snapshot("g1")["data"] == {"whole": [("A", "1"), ("B", "1")]}
    value.marks = 0
    for seq, price in ((2, "2"), (3, "3")):
        core.on_tick(_tick("A", seq, price))
    core.on_tick(_tick("B", 2, "5"))
    updates = _updates(core.flush())
    assert [u["data"] for u in updates] == [{"sum": 8.0}]
    assert value.marks == 1  # one call with both symbols' quotes
    assert _updates(core.flush()) == []  # nothing moved since

    # A change names C and drops B: C is to be followed, B released, the update whole.
    effects = core.on_publish(
        {"group": "g1", "channel": "portfolio:1", "data": {"symbols": ["A", "C"]}}
    )
    assert effects.follow == [("g1", "C")]
    assert effects.release == ["B"] and "B" not in core.views
    assert _updates(core.flush())[0]["data"] == {"whole": [["A", "3"], ["B", "5"]]}

    # The last subscriber leaves: the value goes, and so do the views it alone followed.
    effects = core.remove(conn, ref, "g1")
    assert effects.leave == ["g1"] and effects.release == ["A"]
    assert not core.derives("g1") and core.views == {}


class Shared(Sum):
    """A value that keeps what it derives from quotes in the fan-out's shared space, and
    the quotes mappings it was marked with."""

    def __init__(self, symbols: set[str]) -> None:
        super().__init__(symbols)
        self.space: dict[str, Any] | None = None
        self.given: list[Any] = []

    def share(self, space: dict[str, Any]) -> None:
        assert self.space is None and self.marks == 0  # once, before any mark
        self.space = space

    def mark_quotes(self, quotes: dict[str, Any]) -> bool:
        self.given.append(quotes)
        return super().mark_quotes(quotes)


def test_values_of_one_fan_out_share_one_space_and_get_one_quotes_mapping_a_flush() -> None:
    core, other = FanOut(), FanOut()
    values = [Shared({"A"}), Shared({"A", "B"})]
    for n, value in enumerate(values):
        ref = ChannelRef(f"portfolio:{n}", "portfolio", key=str(n), public=False)
        core.add_derived(f"g{n}", ref, value)
        for symbol in sorted(value.names):
            view = core.views.get(symbol) or _view(core, symbol, "1")
            core.follow(f"g{n}", view, announce=False)
    lone = Shared({"A"})
    other.add_derived("g", ChannelRef("portfolio:9", "portfolio", key="9", public=False), lone)
    assert values[0].space is values[1].space is not None
    assert lone.space is not values[0].space  # another fan-out: its own
    core.on_tick(_tick("A", 2, "2"))
    core.flush()
    assert values[0].given[-1] is values[1].given[-1]  # one mapping for the flush, to both
