"""Valuation at market prices: incremental marks equal a valuation built afresh at the same
prices (exactly, as decimals), totals add up, and a change of basis keeps known prices."""

from __future__ import annotations

from decimal import Decimal

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.portfolio.core.costbasis import Kind, Transaction, compute
from tickstream.portfolio.core.valuation import (
    Basis,
    Position,
    PriceBoard,
    Valuation,
    change_message,
)

D = Decimal


def _basis() -> Basis:
    book = compute(
        [
            Transaction(Kind.DEPOSIT, 1, quantity=D("10000")),
            Transaction(Kind.BUY, 2, "AAPL", D("10"), D("200"), D("1"), "a"),
            Transaction(Kind.BUY, 3, "BTC-USD", D("0.5"), D("60000"), D("5"), "b"),
            Transaction(Kind.SELL, 4, "AAPL", D("4"), D("210"), D("1"), "c"),
        ],
        "fifo",
    )
    return Basis.of(book)


def test_basis_of_a_book_and_back_through_plain_data() -> None:
    basis = _basis()
    assert basis.positions == (
        Position("AAPL", D("6"), D("1200.6")),
        Position("BTC-USD", D("0.5"), D("30005")),
    )
    assert basis.realized == D("38.6")  # 4 x 210 - 1 fee = 839 proceeds, 800.4 cost
    assert Basis.from_dict(basis.to_dict()) == basis


def test_totals_at_market_prices() -> None:
    v = Valuation(_basis(), header={"id": 1})
    assert v.mark("AAPL", D("250"), D("240"))
    assert v.mark("BTC-USD", D("70000"), D("69000"))
    assert not v.mark("AAPL", D("250"), D("240"))  # unchanged
    totals = v.totals()
    assert totals["market_value"] == "36500.00"  # 6 x 250 + 0.5 x 70000
    assert totals["cost_basis"] == "31205.60"
    assert totals["unrealized_pnl"] == "5294.40"
    assert totals["day_change"] == "560.00"  # 6 x 10 + 0.5 x 1000
    holdings = {h["symbol"]: h for h in v.holdings()}
    assert holdings["AAPL"]["allocation_pct"] == "4.11"
    assert holdings["BTC-USD"]["unrealized_pnl_pct"] == "16.65"
    assert v.data()["id"] == 1


def test_unpriced_holdings_are_left_out_of_market_value() -> None:
    v = Valuation(_basis())
    v.mark("AAPL", D("250"))
    totals = v.totals()
    assert totals["market_value"] == "1500.00"
    assert totals["unrealized_pnl"] == "299.40"  # against the priced holdings' cost only
    btc = next(h for h in v.holdings() if h["symbol"] == "BTC-USD")
    assert btc["price"] is None and btc["market_value"] is None


def test_a_new_basis_keeps_the_prices_known() -> None:
    v = Valuation(_basis())
    v.mark("AAPL", D("250"))
    bigger = Basis((Position("AAPL", D("20"), D("4000")),), cash=D("1"))
    v.apply(change_message({"id": 1, "name": "x"}, bigger))
    assert v.symbols() == frozenset({"AAPL"})
    assert v.totals()["market_value"] == "5000.00" and v.header["name"] == "x"


def test_a_quote_on_the_wire_marks_with_its_reference() -> None:
    v = Valuation(_basis())
    assert v.mark_quote("AAPL", {"last": "230.10", "prev_close": None, "open": "229.00"})
    assert next(h for h in v.holdings() if h["symbol"] == "AAPL")["day_change"] == "6.60"
    assert not v.mark_quote("NVDA", {"last": "1"})
    assert not v.mark_quote("AAPL", None)


def test_a_trade_at_the_same_price_moves_the_time_of_the_valuation() -> None:
    """A quote whose price is unchanged but whose time is newer moves the valuation (its
    `as_of`), marked at every take or after one it missed; an older or equal time does
    not."""
    space: dict[str, object] = {}
    each, late = Valuation(_basis()), Valuation(_basis())
    each.share(space)
    late.share(space)

    def quote(price: str, second: int) -> dict[str, object]:
        return {"last": price, "prev_close": None, "time": f"2026-12-07T10:00:0{second}.000000Z"}

    first = {"AAPL": quote("230.10", 0), "BTC-USD": quote("61000", 0)}
    assert each.mark_quotes(first) and late.mark_quotes(first)
    assert each.mark_quotes({"AAPL": quote("230.10", 1)})  # late misses this take
    assert each.as_of == "2026-12-07T10:00:01.000000Z"
    later = {"BTC-USD": quote("61000", 2)}
    assert each.mark_quotes(later)
    assert late.mark_quotes(later)  # from its symbols' stamps
    assert each.as_of == late.as_of == "2026-12-07T10:00:02.000000Z"
    assert each.data() == late.data()
    assert not each.mark_quotes({"AAPL": quote("230.10", 1)})  # not newer: nothing moved


prices = st.decimals(min_value=D("0.0001"), max_value=D("100000"), places=4)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["AAPL", "BTC-USD"]), prices, prices), max_size=60))
def test_incremental_marks_equal_a_fresh_valuation(marks: list[tuple[str, D, D]]) -> None:
    live = Valuation(_basis())
    last: dict[str, tuple[D, D]] = {}
    for symbol, price, reference in marks:
        live.mark(symbol, price, reference)
        last[symbol] = (price, reference)
    fresh = Valuation(_basis())
    for symbol, (price, reference) in last.items():
        fresh.mark(symbol, price, reference)
    assert live.market_value == fresh.market_value
    assert live.day_change == fresh.day_change
    assert live.data() == fresh.data()


# --- valuations sharing one price board (the Hub's), summed in integers ---

SYMBOLS = ["AAPL", "BTC-USD", "XLM-USD", "SHIB-USD"]
quantities = st.decimals(min_value=D("0.00000001"), max_value=D("100000000"), places=8)
fine_prices = st.decimals(min_value=D("0"), max_value=D("1000000000"), places=12)
quote_text = st.one_of(prices, fine_prices).map(str)
times = st.integers(0, 59).map(lambda s: f"2026-12-07T10:00:{s:02d}.000000Z")
quoted = st.tuples(quote_text, times)


def _wide_value(held: dict[str, D], last: dict[str, str]) -> D:
    """The market value the slow way, in decimals wide enough never to round."""
    from decimal import Context

    wide = Context(prec=200)
    total = D(0)
    for symbol, quantity in held.items():
        if symbol in last:
            total = wide.add(total, wide.multiply(quantity, D(last[symbol])))
    return total


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.dictionaries(st.sampled_from(SYMBOLS), quantities, min_size=1), min_size=1, max_size=4
    ),
    st.lists(st.dictionaries(st.sampled_from(SYMBOLS), quoted, min_size=1), max_size=12),
    st.data(),
)
def test_valuations_sharing_a_board_equal_each_alone_exactly(
    books: list[dict[str, D]], flushes: list[dict[str, tuple[str, str]]], data: st.DataObject
) -> None:
    """Valuations on one shared board, each marked in some flushes and not others (as the
    Hub marks only those whose symbols moved, and a valuation may be added late), equal a
    valuation alone marked with the same last prices; and their value is the exact sum
    of quantity x price however many digits it has (no rounding at any precision); its
    time is its newest price's."""
    space: dict[str, object] = {}
    shared, alone = [], []
    for held in books:
        basis = Basis(tuple(Position(s, q, q) for s, q in sorted(held.items())))
        live = Valuation(basis)
        live.share(space)
        shared.append(live)
        alone.append(Valuation(basis))
    last: dict[str, str] = {}
    newest: dict[str, str] = {}
    for prices_now in flushes:
        quotes = {s: {"last": p, "prev_close": None, "time": t} for s, (p, t) in prices_now.items()}
        marked = data.draw(st.lists(st.booleans(), min_size=len(books), max_size=len(books)))
        before = {i: v.data() for i, v in enumerate(shared)}
        for i, v in enumerate(shared):
            if marked[i]:
                moved = v.mark_quotes(quotes)
                expected = before[i] != v.data()
                assert moved or not expected  # a change is never missed
        last.update({s: p for s, (p, _) in prices_now.items()})
        for s, (_, t) in prices_now.items():
            newest[s] = max(t, newest.get(s, t))
    final = {s: {"last": p, "prev_close": None, "time": newest[s]} for s, p in last.items()}
    for i, v in enumerate(shared):
        v.mark_quotes(final)
        alone[i].mark_quotes(dict(final))
        assert v.data() == alone[i].data()
        assert orjson.loads(orjson.dumps(v.update())) == orjson.loads(
            orjson.dumps(alone[i].update())
        )
        assert v.market_value == _wide_value(books[i], last)
        held_times = [newest[s] for s in books[i] if s in newest]
        assert v.as_of == (max(held_times) if held_times else None)


def test_a_board_parses_each_quote_once_and_refuses_what_is_no_price() -> None:
    board = PriceBoard()
    quotes = {"AAPL": {"last": "250.5", "prev_close": "240"}, "X": {"last": "NaN"}}
    board.take(quotes)
    stamp = board.stamp["AAPL"]
    board.take(quotes)  # the same mapping: taken once
    board.take({"AAPL": {"last": "250.5", "prev_close": "240"}})  # the same prices
    assert board.stamp["AAPL"] == stamp
    assert "X" not in board.text  # refused: left unpriced
    for bad in ("-1", "Infinity", "1e-40", "abc"):
        board.take({"Y": {"last": bad}})
        assert "Y" not in board.text
    board.take({"BTC-USD": {"last": "0.000000001"}})  # a finer price: every one rescaled
    assert board.scale == 9
    assert D(board.units["AAPL"]).scaleb(-board.scale) == D("250.5")
    assert D(board.base_units["AAPL"]).scaleb(-board.scale) == D("240")


def test_an_update_with_every_price_pre_encoded_reads_as_the_plain_one() -> None:
    v = Valuation(_basis(), header={"id": 1})
    v.mark("AAPL", D("250"), D("240"))
    partial = v.update()  # one holding unpriced: prices as a plain dict
    assert partial["prices"] == {"AAPL": ["250", "240"]}
    v.mark("BTC-USD", D("70000.5"), D("69000"))
    sent = orjson.loads(orjson.dumps(v.update()))
    assert sent["prices"] == {"AAPL": ["250", "240"], "BTC-USD": ["70000.5", "69000"]}
    assert sent["totals"]["market_value"] == "36500.25"
