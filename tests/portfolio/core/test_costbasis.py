"""Cost basis by four methods: published vectors, edge cases, and conservation properties."""

from __future__ import annotations

import random
from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.portfolio.core.costbasis import (
    CostBasisError,
    InsufficientQuantity,
    Kind,
    Method,
    Transaction,
    compute,
)
from tickstream.portfolio.core.returns import xirr

D = Decimal
DAY = 86_400 * 10**9


def _t(day: int) -> int:
    return int(datetime(2024, 10, 1, tzinfo=UTC).timestamp()) * 10**9 + day * DAY


def buy(qty: str, price: str, day: int = 0, fee: str = "0", ref: str = "", sym: str = "X"):
    return Transaction(Kind.BUY, _t(day), sym, D(qty), D(price), D(fee), ref or f"b{day}{qty}")


def sell(qty: str, price: str, day: int = 0, fee: str = "0", ref: str = "", sym: str = "X"):
    return Transaction(Kind.SELL, _t(day), sym, D(qty), D(price), D(fee), ref or f"s{day}{qty}")


def lots(book, sym: str = "X") -> list[tuple[Decimal, Decimal]]:  # type: ignore[no-untyped-def]
    return [(lot.quantity, lot.unit_cost) for lot in book.holdings[sym].lots]


def test_published_fifo_vector() -> None:
    """Buys 5 @ 268.1, 15 @ 612.45, 3 @ 603.415, then a sale of 8 costs 3177.85 and
    leaves 12 @ 612.45 and 3 @ 603.415."""
    book = compute(
        [buy("5", "268.1", 0), buy("15", "612.45", 1), buy("3", "603.415", 2), sell("8", "700", 3)],
        "fifo",
    )
    assert book.sales[0].cost == D("3177.85")
    assert lots(book) == [(D(12), D("612.45")), (D(3), D("603.415"))]


def test_lots_are_consumed_by_trade_time_not_entry_order() -> None:
    """Lots 4 @ 100 (Oct 1), 5 @ 111.11 (Oct 2), 6 @ 122.22 (Oct 3) entered out of order:
    a sale of 7 consumes 4 @ 100 and 3 @ 111.11."""
    entered = [
        buy("6", "122.22", 2),
        sell("7", "130", 4),
        buy("4", "100", 0),
        buy("5", "111.11", 1),
    ]
    sale = compute(entered, "fifo").sales[0]
    assert [(c.quantity, c.cost) for c in sale.lots] == [(D(4), D(400)), (D(3), D("333.33"))]


@pytest.mark.parametrize(
    ("method", "cost"),
    [
        ("fifo", D("100") * 4 + D("111.11") * 3),
        ("lifo", D("122.22") * 6 + D("111.11")),
        ("hifo", D("122.22") * 6 + D("111.11")),
        ("average", (D(400) + D("555.55") + D("733.32")) * 7 / 15),
    ],
)
def test_each_method_consumes_its_lots(method: str, cost: Decimal) -> None:
    book = compute(
        [buy("4", "100", 0), buy("5", "111.11", 1), buy("6", "122.22", 2), sell("7", "1", 3)],
        method,
    )
    assert abs(book.sales[0].cost - cost) < D("1e-9")
    assert book.holdings["X"].quantity == 8


def test_hifo_takes_the_dearest_lot_first_whatever_its_age() -> None:
    book = compute(
        [buy("1", "50", 0), buy("1", "90", 1), buy("1", "70", 2), sell("2", "80", 3)], "hifo"
    )
    assert [c.cost for c in book.sales[0].lots] == [D(90), D(70)]
    assert lots(book) == [(D(1), D(50))]


def test_fees_are_in_the_cost_of_buys_and_come_off_the_proceeds() -> None:
    book = compute([buy("10", "20", 0, fee="5"), sell("4", "25", 1, fee="2")], "fifo")
    sale = book.sales[0]
    assert sale.cost == D("82")  # 4 x 20 + 4/10 of the 5 fee
    assert sale.proceeds == D("98") and sale.realized == D("16")
    assert book.holdings["X"].cost == D("123") and book.fees == D(7)
    # 205 spent with no cash: brought in; the sale's 98 stays as cash.
    assert book.cash == 98 and book.implicit == 205


def test_a_split_rescales_lots_without_changing_cost() -> None:
    split = Transaction(Kind.SPLIT, _t(1), "X", D(4))
    book = compute([buy("10", "400", 0), split, sell("8", "110", 2)], "fifo")
    assert book.sales[0].cost == D(800)
    assert lots(book) == [(D(32), D(100))]
    assert book.holdings["X"].cost == D(3200)


def test_a_split_at_the_same_time_as_trades_applies_to_what_was_held_before() -> None:
    book = compute(
        [buy("5", "40", 1), Transaction(Kind.SPLIT, _t(1), "X", D(2)), buy("10", "100", 0)], "fifo"
    )
    assert book.holdings["X"].quantity == 25  # 10 before the split became 20, then 5 more


def test_selling_more_than_is_held_is_refused_and_changes_nothing() -> None:
    with pytest.raises(InsufficientQuantity) as caught:
        compute([buy("5", "10", 0), sell("6", "11", 1)], "fifo")
    assert caught.value.code == "insufficient_quantity"
    book = compute([buy("5", "10", 0)], "fifo")
    from tickstream.portfolio.core.costbasis import apply

    with pytest.raises(InsufficientQuantity):
        apply(book, sell("5.0001", "11", 1))
    assert lots(book) == [(D(5), D(10))] and book.sales == [] and book.implicit == D(50)


def test_partial_lots_and_an_emptied_lot() -> None:
    book = compute(
        [buy("3", "10", 0), buy("3", "20", 1), sell("3", "15", 2), sell("1.5", "15", 3)], "fifo"
    )
    assert [s.cost for s in book.sales] == [D(30), D(30)]
    assert lots(book) == [(D("1.5"), D(20))]


def test_switching_the_method_recomputes_from_the_transactions() -> None:
    txs = [buy("1", "50", 0), buy("1", "90", 1), sell("1", "80", 2)]
    realized = {m: compute(txs, m).realized for m in Method}
    assert realized == {"fifo": 30, "lifo": -10, "hifo": -10, "average": 10}


def test_bad_transactions_are_refused_with_a_code() -> None:
    with pytest.raises(CostBasisError):
        compute([buy("0", "10")], "fifo")
    with pytest.raises(CostBasisError):
        compute([buy("-1", "10")], "fifo")
    with pytest.raises(ValueError):
        compute([], "newest")


def test_cash_kinds() -> None:
    book = compute(
        [
            Transaction(Kind.DEPOSIT, _t(0), quantity=D(1000)),
            buy("2", "100", 1, fee="1"),
            Transaction(Kind.DIVIDEND, _t(2), "X", D("3.50")),
            Transaction(Kind.FEE, _t(3), quantity=D(2)),
            Transaction(Kind.WITHDRAWAL, _t(4), quantity=D(100)),
        ],
        "fifo",
    )
    assert book.cash == D(1000) - 201 + D("3.50") - 2 - 100
    assert (book.dividends, book.fees, book.deposits, book.withdrawals) == (D("3.50"), 3, 1000, 100)
    assert book.implicit == 0 and book.invested == 900


def test_xirr_equals_the_spreadsheet_function_on_its_documented_example() -> None:
    flows = [
        (date(2008, 1, 1), -10_000.0),
        (date(2008, 3, 1), 2_750.0),
        (date(2008, 10, 30), 4_250.0),
        (date(2009, 2, 15), 3_250.0),
        (date(2009, 4, 1), 2_750.0),
    ]
    # The documented 0.373362535 is the spreadsheet's own iteration, to its 1e-8 accuracy.
    assert abs(xirr(flows) - 0.373362535) < 1e-8


quantities = st.decimals(min_value=D("0.001"), max_value=D("1000"), places=3)
prices = st.decimals(min_value=D("0.01"), max_value=D("10000"), places=2)
fees = st.decimals(min_value=D(0), max_value=D("20"), places=2)


@st.composite
def histories(draw: st.DrawFn) -> list[Transaction]:
    """Buys and sales (never more than is held) of two symbols over a few days, several at
    the same time, and the odd split."""
    held = {"X": D(0), "Y": D(0)}
    out = []
    day = 0
    for i in range(draw(st.integers(1, 30))):
        sym = draw(st.sampled_from(["X", "Y"]))
        day += draw(st.integers(0, 1))  # in trade-time order; many share a day
        kind = draw(st.sampled_from(["buy", "buy", "sell", "split"]))
        if kind == "buy" or held[sym] == 0:
            q = draw(quantities)
            out.append(buy(str(q), str(draw(prices)), 0, str(draw(fees)), f"t{i}", sym))
            out[-1] = Transaction(
                Kind.BUY, _t(day) + i, sym, q, out[-1].price, out[-1].fee, f"t{i}"
            )
            held[sym] += q
        elif kind == "sell":
            q = min(held[sym], draw(quantities))
            out.append(
                Transaction(Kind.SELL, _t(day) + i, sym, q, draw(prices), draw(fees), f"t{i}")
            )
            held[sym] -= q
        else:
            ratio = draw(st.sampled_from([D(2), D(3), D("0.5")]))
            out.append(Transaction(Kind.SPLIT, _t(day) + i, sym, ratio, ref=f"t{i}"))
            held[sym] *= ratio
    return out


@settings(max_examples=300, deadline=None)
@given(txs=histories(), method=st.sampled_from(list(Method)))
def test_quantity_and_cost_are_conserved(txs: list[Transaction], method: Method) -> None:
    """Cost of the remaining lots + cost of everything sold = cost of everything bought,
    exactly; quantities likewise (splits scale what was held)."""
    book = compute(txs, method)
    remaining = sum((h.cost for h in book.holdings.values()), D(0))
    assert remaining + book.sold_cost == book.bought
    for holding in book.holdings.values():
        assert all(lot.quantity > 0 and lot.cost >= 0 for lot in holding.lots)


@settings(max_examples=200, deadline=None)
@given(txs=histories(), method=st.sampled_from(list(Method)), seed=st.integers(0, 2**32))
def test_results_never_depend_on_the_order_same_time_transactions_were_entered(
    txs: list[Transaction], method: Method, seed: int
) -> None:
    same_time = [
        Transaction(t.kind, t.time - t.time % DAY, t.symbol, t.quantity, t.price, t.fee, t.ref)
        for t in txs
    ]
    try:
        first = compute(same_time, method)
    except InsufficientQuantity:
        return  # within a day sales may now precede the buys they relied on
    shuffled = list(same_time)
    random.Random(seed).shuffle(shuffled)
    second = compute(shuffled, method)
    for sym in first.holdings:
        assert first.holdings[sym].average_cost == second.holdings[sym].average_cost
        assert first.holdings[sym].quantity == second.holdings[sym].quantity
    assert first.realized == second.realized


def _by_definition(txs: list[Transaction], method: Method) -> list[tuple[str, ...]]:
    """The sales' consumed lots by the methods' definitions, over plain lists sorted for
    every sale (the quadratic way): fifo by time, lifo newest first (the reverse of the
    trade-time order), hifo by cost per unit at the sale, then by time."""
    lots: dict[str, list[list[object]]] = {}  # [time, order, quantity, cost, ref]
    out = []
    for n, tx in enumerate(sorted(txs, key=Transaction.sort_key)):
        held = lots.setdefault(tx.symbol, [])
        if tx.kind is Kind.BUY:
            cost = tx.quantity * tx.price + tx.fee
            if method is Method.AVERAGE and held:
                held[0][2] += tx.quantity  # type: ignore[operator]
                held[0][3] += cost  # type: ignore[operator]
            else:
                held.append([tx.time, n, tx.quantity, cost, tx.ref])
        elif tx.kind is Kind.SPLIT:
            for lot in held:
                lot[2] *= tx.quantity  # type: ignore[operator]
        elif tx.kind is Kind.SELL:
            if method is Method.LIFO:
                order = sorted(held, key=lambda lot: (lot[0], lot[1]), reverse=True)
            elif method is Method.HIFO:
                order = sorted(held, key=lambda lot: (-lot[3] / lot[2], lot[0], lot[1]))  # type: ignore[operator]
            else:
                order = sorted(held, key=lambda lot: (lot[0], lot[1]))
            left, taken = tx.quantity, []
            for lot in order:
                if left == 0:
                    break
                take = min(left, lot[2])  # type: ignore[type-var]
                taken.append(f"{lot[4]}:{take}")
                part = lot[3] if take == lot[2] else (lot[3] * take / lot[2]).quantize(D("1e-10"))  # type: ignore[operator]
                lot[2] -= take  # type: ignore[operator]
                lot[3] -= part  # type: ignore[operator]
                left -= take  # type: ignore[operator]
            lots[tx.symbol] = [lot for lot in held if lot[2] > 0]  # type: ignore[operator]
            out.append(tuple(taken))
    return out


@settings(max_examples=400, deadline=None)
@given(txs=histories(), method=st.sampled_from(list(Method)))
def test_the_lot_structures_consume_lots_as_the_methods_define(
    txs: list[Transaction], method: Method
) -> None:
    """The queue, stack and heap give the lots that sorting every sale's lots would."""
    book = compute(txs, method)
    got = [tuple(f"{c.ref}:{c.quantity}" for c in sale.lots) for sale in book.sales]
    assert got == _by_definition(txs, method)
