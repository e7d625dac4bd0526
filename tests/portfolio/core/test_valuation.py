"""Valuation at market prices: incremental marks equal a valuation built afresh at the same
prices (exactly, as decimals), totals add up, and a change of basis keeps known prices."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.portfolio.core.costbasis import Kind, Transaction, compute
from tickstream.portfolio.core.valuation import Basis, Position, Valuation, change_message

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
