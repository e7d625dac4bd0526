"""The alert book: once per crossing, re-armed only after crossing back, moves from the
session open; and, for any sequence of prices, the same firings as checking every alert
one by one (the bisected lists never miss or invent a change)."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.alerts.core.book import Alert, AlertBook, Condition

D = Decimal


def _fired(book: AlertBook, symbol: str, *prices: str, open_: str | None = None) -> list[list[int]]:
    out = []
    for p in prices:
        changes = book.on_price(symbol, D(p), None if open_ is None else D(open_))
        out.append(sorted(c.id for c in changes if c.fired))
    return out


def test_an_above_alert_fires_once_per_crossing() -> None:
    book = AlertBook()
    book.add(Alert(1, "AAPL", Condition.ABOVE, D("100")))
    # First price below: armed. Crossing fires once; staying above fires nothing.
    assert _fired(book, "AAPL", "99", "100", "101", "105") == [[], [1], [], []]
    # Back below re-arms (no firing), the next crossing fires again.
    changes = book.on_price("AAPL", D("99.99"))
    assert [(c.id, c.fired) for c in changes] == [(1, False)]
    assert _fired(book, "AAPL", "100.5") == [[1]]


def test_an_alert_already_past_its_level_waits_for_a_crossing() -> None:
    book = AlertBook()
    book.add(Alert(1, "AAPL", Condition.BELOW, D("100")))
    assert _fired(book, "AAPL", "95", "90", "101", "100") == [[], [], [], [1]]


def test_an_alert_added_after_prices_is_placed_against_the_last_one() -> None:
    """The book remembers the price of a symbol no alert watched yet: an alert added at
    99 for 100 is armed, and the next price, 101, fires it (it used to be placed against
    101 and start disarmed, never firing for that crossing)."""
    book = AlertBook()
    assert _fired(book, "AAPL", "98", "99") == [[], []]
    book.add(Alert(1, "AAPL", Condition.ABOVE, D("100")))
    assert _fired(book, "AAPL", "101") == [[1]]


def test_many_alerts_at_many_levels_fire_in_one_tick() -> None:
    book = AlertBook()
    for n in range(1, 11):
        book.add(Alert(n, "BTC-USD", Condition.ABOVE, D(100 + n)))
    book.add(Alert(99, "ETH-USD", Condition.ABOVE, D("1")))
    assert _fired(book, "BTC-USD", "100", "105") == [[], [1, 2, 3, 4, 5]]
    assert _fired(book, "BTC-USD", "200") == [[6, 7, 8, 9, 10]]
    assert book.on_price("ETH-USD", D("0.5")) == []  # other symbols untouched


def test_a_move_alert_follows_the_session_open() -> None:
    book = AlertBook()
    book.add(Alert(1, "TSLA", Condition.MOVE_UP, D("5")))
    book.add(Alert(2, "TSLA", Condition.MOVE_DOWN, D("5")))
    # Open 200: levels 210 and 190.
    assert _fired(book, "TSLA", "200", "209.99", "210", open_="200") == [[], [], [1]]
    assert _fired(book, "TSLA", "190", open_="200") == [[2]]
    changes = book.on_price("TSLA", D("190"), D("200"))
    assert changes == []  # no new crossing
    # A new session opens at 180: new levels (189, 171), each waits for its crossing.
    assert _fired(book, "TSLA", "180", "189", open_="180") == [[], [1]]


def test_removing_and_replacing_an_alert() -> None:
    book = AlertBook()
    book.add(Alert(1, "KO", Condition.ABOVE, D("70")))
    book.on_price("KO", D("60"))
    book.remove(1)
    assert _fired(book, "KO", "80") == [[]]
    book.add(Alert(1, "KO", Condition.ABOVE, D("90")))  # armed: the last price, 80, is below
    assert _fired(book, "KO", "95") == [[1]]
    book.add(Alert(2, "KO", Condition.ABOVE, D("93")))  # the last price, 95, is past it
    assert _fired(book, "KO", "96", "92", "94") == [[], [], [2]]
    assert len(book) == 2


levels = st.decimals(min_value=1, max_value=50, places=1)
conditions = st.sampled_from([Condition.ABOVE, Condition.BELOW])


@settings(max_examples=300, deadline=None)
@given(
    alerts=st.lists(st.tuples(conditions, levels), min_size=1, max_size=25),
    prices=st.lists(levels, min_size=1, max_size=40),
)
def test_the_book_matches_checking_every_alert(
    alerts: list[tuple[Condition, Decimal]], prices: list[Decimal]
) -> None:
    book = AlertBook()
    for n, (condition, level) in enumerate(alerts):
        book.add(Alert(n, "X", condition, level))
    armed: dict[int, bool | None] = dict.fromkeys(range(len(alerts)))
    for price in prices:
        expected = []
        for n, (condition, level) in enumerate(alerts):
            reached = price >= level if condition is Condition.ABOVE else price <= level
            if armed[n] is None:
                armed[n] = not reached
            elif armed[n] and reached:
                armed[n] = False
                expected.append((n, True))
            elif not armed[n] and not reached:
                armed[n] = True
                expected.append((n, False))
        got = sorted((c.id, c.fired) for c in book.on_price("X", price))
        assert got == sorted(expected)
