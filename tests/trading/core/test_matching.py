"""The paper venue's engine: realistic fills (touching is not filling, volume bounds every
fill, stops trigger on trades), time in force, fees, reservations; and, over random
sequences of orders, cancels and trades, exact conservation of every balance, no negative
balance, no fill beyond an order's quantity and no illegal status change."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import event, given, settings
from hypothesis import strategies as st

from tickstream.trading.core.events import OrderClosed
from tickstream.trading.core.matching import Engine, Market, OrderError, Rules
from tickstream.trading.core.orders import (
    Order,
    OrderStateError,
    OrderType,
    Side,
    Status,
    TimeInForce,
)

D = Decimal
BTC = Market("BTC-USD", "BTC", "USD", tick=D("0.01"), step=D("0.001"))
AAPL = Market("AAPL", "AAPL", "USD", tick=D("0.01"), step=D("1"))
FREE = Rules(maker_bps=D(0), taker_bps=D(0), slippage_bps=D(0))


def engine(rules: Rules = FREE) -> Engine:
    e = Engine([BTC, AAPL], rules)
    e.ledger.deposit(1, "USD", D("100000"))
    e.ledger.deposit(1, "BTC", D("2"))
    e.ledger.deposit(1, "AAPL", D("100"))
    return e


def order(n: int, side: Side = Side.BUY, kind: OrderType = OrderType.LIMIT, **kw: object) -> Order:
    fields: dict[str, object] = {"symbol": "AAPL", "quantity": D(10), **kw}
    return Order(n, 1, side=side, type=kind, **fields)  # type: ignore[arg-type]


def test_touching_is_not_filling_the_queue_trades_first() -> None:
    e = engine()
    buy = order(1, price=D("100.00"))
    e.place(buy)
    assert e.on_trade("AAPL", D("100.00"), D(6)) == []  # 6 of the 10 ahead of it
    fills = e.on_trade("AAPL", D("100.00"), D(7))  # 4 more ahead, then 3 for it
    assert [(f.quantity, f.price, f.liquidity) for f in fills] == [(D(3), D("100.00"), "maker")]
    assert buy.status is Status.PARTIALLY_FILLED
    # Trading through the price fills the rest at the limit, bounded by the trade's size.
    assert [f.quantity for f in e.on_trade("AAPL", D("99.50"), D(5))] == [D(5)]
    assert [f.quantity for f in e.on_trade("AAPL", D("99.00"), D(100))] == [D(2)]
    assert buy.status is Status.FILLED and buy.filled == 10
    assert e.ledger.balance(1, "AAPL").available == 110
    assert e.ledger.balance(1, "USD").available == D("100000") - D("1000.00")
    assert e.ledger.conserved()


def test_market_orders_take_the_next_trades_with_slippage_and_fees() -> None:
    e = engine(Rules(maker_bps=D(10), taker_bps=D(20), slippage_bps=D(10)))
    e.on_trade("BTC-USD", D("60000.00"), D("0.5"))
    buy = Order(1, 1, "BTC-USD", Side.BUY, OrderType.MARKET, D("1.5"))
    e.place(buy)
    fills = e.on_trade("BTC-USD", D("60000.00"), D("1"))  # a large order over two trades
    assert [(f.quantity, f.price) for f in fills] == [(D("1.000"), D("60060.00"))]
    assert fills[0].fee == D("120.1200000")  # 20 bps of 60,060
    e.on_trade("BTC-USD", D("60100.00"), D("2"))
    assert buy.status is Status.FILLED
    assert e.ledger.balance(1, "BTC").available == D("3.5")
    assert e.ledger.balance(1, "USD").reserved == 0  # the collar's excess came back
    assert e.ledger.conserved()


def test_stops_trigger_on_trades_and_act_from_the_next() -> None:
    e = engine()
    stop = order(1, Side.SELL, OrderType.STOP, stop_price=D("95.00"))
    e.place(stop)
    assert e.on_trade("AAPL", D("96.00"), D(50)) == []
    assert e.on_trade("AAPL", D("95.00"), D(50)) == []  # triggered here
    assert stop.triggered and stop.status is Status.NEW
    fills = e.on_trade("AAPL", D("94.00"), D(50))
    assert [(f.quantity, f.price, f.liquidity) for f in fills] == [(D(10), D("94.00"), "taker")]


def test_ioc_and_fok() -> None:
    e = engine()
    ioc = order(1, price=D("100.00"), tif=TimeInForce.IOC)
    fok = order(2, price=D("100.00"), tif=TimeInForce.FOK, quantity=D(20))
    e.place(ioc)
    e.place(fok)
    fills = e.on_trade("AAPL", D("99.00"), D(12))
    assert [(f.order, f.quantity) for f in fills] == [(1, D(10))]
    assert ioc.status is Status.FILLED
    assert fok.status is Status.CANCELLED and fok.filled == 0  # 20 did not trade: nothing
    assert e.ledger.balance(1, "USD").reserved == 0 and e.ledger.conserved()


def test_day_orders_expire_and_release_their_funds() -> None:
    e = engine()
    day = order(1, price=D("50.00"), tif=TimeInForce.DAY)
    e.place(day)
    assert e.ledger.balance(1, "USD").reserved == D("500.00")
    assert e.expire_day(["AAPL"]) == [day] and day.status is Status.EXPIRED
    assert e.ledger.balance(1, "USD").reserved == 0


def test_refusals_carry_codes_and_change_nothing() -> None:
    e = engine()
    cases = [
        (order(1, quantity=D("1.5"), price=D("1.00")), "bad_step"),
        (order(2, price=D("1.001")), "bad_step"),
        (order(3, kind=OrderType.LIMIT), "bad_price"),
        (order(4, price=D("20000.00")), "insufficient_funds"),
        (order(5, Side.SELL, price=D("1.00"), quantity=D(101)), "insufficient_funds"),
        (Order(6, 1, "NOPE", Side.BUY, OrderType.MARKET, D(1)), "unknown_instrument"),
        (order(7, kind=OrderType.MARKET), "no_price"),
    ]
    for o, code in cases:
        with pytest.raises(OrderError) as caught:
            e.place(o)
        assert caught.value.code == code, o
        assert o.status is Status.REJECTED
    assert e.ledger.balance(1, "USD").available == D("100000") and e.ledger.conserved()
    with pytest.raises(OrderError):
        e.cancel(1)


def test_the_state_machine_refuses_illegal_transitions() -> None:
    o = order(1, price=D(1))
    o.transition(Status.FILLED)
    with pytest.raises(OrderStateError):
        o.transition(Status.CANCELLED)


def test_a_trade_that_crosses_nothing_touches_only_the_edges() -> None:
    e = engine()
    for n in range(1, 201):
        e.place(order(n, price=D(50) + D(n) / 100, quantity=D(1)))
    assert e.on_trade("AAPL", D("60.00"), D(5)) == []  # above every bid: nothing to do
    assert len(e.book("AAPL").bids) == 200


def test_a_limit_placed_through_the_market_takes_at_the_trade_prices() -> None:
    e = engine(Rules(maker_bps=D(10), taker_bps=D(20), slippage_bps=D(10)))
    e.on_trade("AAPL", D("100.00"), D(1))
    bid = order(1, price=D("101.00"), quantity=D(12))  # above the market: marketable
    e.place(bid)
    fills = e.on_trade("AAPL", D("100.00"), D(4))
    # A taker at the trade price plus 10 bps of slippage (100.10), not at its limit; and
    # again on the next trade while the market stays under its limit.
    assert [(f.quantity, f.price, f.liquidity) for f in fills] == [(D(4), D("100.10"), "taker")]
    fills = e.on_trade("AAPL", D("100.50"), D(3))
    assert [(f.quantity, f.price, f.liquidity) for f in fills] == [(D(3), D("100.61"), "taker")]
    # The market rises past it: it rests now, and a trade back through it fills at its
    # limit, as a maker.
    assert e.on_trade("AAPL", D("101.50"), D(50)) == []
    fills = e.on_trade("AAPL", D("99.00"), D(10))
    assert [(f.quantity, f.price, f.liquidity) for f in fills] == [(D(5), D("101.00"), "maker")]
    assert e.ledger.balance(1, "USD").reserved == 0 and e.ledger.conserved()


def test_an_order_reloaded_from_the_store_holds_exactly_what_it_held() -> None:
    e = Engine([AAPL], FREE)
    held = D("1000.00")
    resting = order(7, price=D("100.00"))
    e.adopt(resting, held)  # reserved by the store already: the engine holds just that
    assert e.ledger.balance(1, "USD").reserved == held and e.held[7] == held
    assert e.forget(7) is resting and e.forget(7) is None
    assert e.ledger.balance(1, "USD").reserved == 0 and e.ledger.conserved()
    assert e.book("AAPL").bids == [] and resting.status is Status.NEW  # no transition
    e.adopt(resting, held)
    e.expire(7)
    assert resting.status is Status.EXPIRED
    assert e.drain()[-1] == OrderClosed(resting.id, Status.EXPIRED, "its session ended", 0)
    assert e.ledger.balance(1, "USD").available == held and e.ledger.conserved()


steps = st.lists(
    st.one_of(
        st.tuples(
            st.just("order"),
            st.sampled_from(list(Side)),
            st.sampled_from(list(OrderType)),
            st.sampled_from(list(TimeInForce)),
            st.integers(1, 30),  # quantity in steps
            st.integers(9_950, 10_050),  # price in cents
            st.integers(9_950, 10_050),  # stop in cents
        ),
        st.tuples(st.just("cancel"), st.integers(0, 60)),
        st.tuples(st.just("trade"), st.integers(9_950, 10_050), st.integers(1, 40)),
        st.tuples(st.just("expire")),
        st.tuples(st.just("reload"), st.integers(0, 60)),
    ),
    min_size=20,
    max_size=80,
)


@settings(max_examples=500, deadline=None)  # about 20,000 steps in all
@given(steps)
def test_balances_are_conserved_and_no_order_overfills(script: list[tuple[object, ...]]) -> None:
    e = engine(Rules(maker_bps=D(7), taker_bps=D(25), slippage_bps=D(3), queue_factor=D("0.5")))
    placed: list[Order] = []
    for step in script:
        if step[0] == "order":
            _, side, kind, tif, qty, cents, stop_cents = step
            assert isinstance(kind, OrderType) and isinstance(side, Side)
            assert isinstance(tif, TimeInForce) and isinstance(qty, int)
            assert isinstance(cents, int) and isinstance(stop_cents, int)
            o = Order(
                len(placed) + 1,
                1,
                "AAPL",
                side,
                kind,
                D(qty),
                price=D(cents) / 100 if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
                stop_price=D(stop_cents) / 100
                if kind in (OrderType.STOP, OrderType.STOP_LIMIT)
                else None,
                tif=tif,
            )
            placed.append(o)
            try:
                e.place(o)
            except OrderError:
                assert o.status is Status.REJECTED
        elif step[0] == "cancel" and placed:
            index = step[1]
            assert isinstance(index, int)
            target = placed[index % len(placed)]
            try:
                e.cancel(target.id)
            except OrderError:
                assert not target.is_open or target.id not in e.orders
        elif step[0] == "trade":
            cents, size = step[1], step[2]
            assert isinstance(cents, int) and isinstance(size, int)
            fills = e.on_trade("AAPL", D(cents) / 100, D(size))
            assert sum((f.quantity for f in fills), D(0)) <= size
            for f in fills:
                event(f"fill: {f.liquidity}")
        elif step[0] == "expire":
            e.expire_day(["AAPL"])
        elif step[0] == "reload" and placed:  # as the running engine reloads a stale order
            index = step[1]
            assert isinstance(index, int)
            target = placed[index % len(placed)]
            if target.id in e.orders:
                held = e.held[target.id]
                assert e.forget(target.id) is target
                e.adopt(target, held)
        assert e.ledger.conserved()
        for o in placed:
            assert 0 <= o.filled <= o.quantity
            assert (o.status is Status.FILLED) == (o.filled == o.quantity)
    for o in placed:
        event(f"order ended {o.status}")
    # What is reserved is exactly what the open orders hold.
    held = {"USD": D(0), "AAPL": D(0)}
    for o in e.orders.values():
        held["AAPL" if o.side is Side.SELL else "USD"] += e.held[o.id]
    assert e.ledger.balance(1, "USD").reserved == held["USD"]
    assert e.ledger.balance(1, "AAPL").reserved == held["AAPL"]


def test_the_engine_tells_what_it_did_as_typed_events_in_order() -> None:
    from tickstream.trading.core.events import (
        BalanceMove,
        Liquidity,
        OrderFilled,
        OrderTriggered,
    )

    e = engine(Rules(maker_bps=D(10), taker_bps=D(20)))
    buy = order(1, symbol="BTC-USD", price=D("50000"), quantity=D("0.5"))
    stop = order(
        2, Side.SELL, OrderType.STOP, symbol="BTC-USD", quantity=D("0.2"), stop_price=D("48000")
    )
    e.place(buy)
    e.place(stop)
    before = {c: e.ledger.balance(1, c) for c in ("USD", "BTC")}
    before = {c: (b.available, b.reserved) for c, b in before.items()}
    e.on_trade("BTC-USD", D("49000"), D("2"), "t1", ts_event=1_795_000_000_123_456_789)
    events = e.drain()
    assert [type(x).__name__ for x in events] == ["OrderFilled", "OrderClosed"]
    filled = events[0]
    assert isinstance(filled, OrderFilled)
    assert filled.ts_event == 1_795_000_000_123_456_789 and filled.order == 1
    # A resting limit the trade reached: a maker at its limit; 25,000 x 10 bps = 25 fee.
    assert filled.fill.liquidity is Liquidity.MAKER and filled.fill.price == D("50000")
    assert filled.released == D("25025")
    assert filled.moves == (
        BalanceMove("USD", reserved=D("-25025"), fees=D("25")),
        BalanceMove("BTC", available=D("0.5")),
    )
    assert events[1] == OrderClosed(1, Status.FILLED, "filled", 1_795_000_000_123_456_789)
    # The moves are the balance changes the engine made (the filled order's unused fee
    # reserve released on its close aside).
    usd, btc = e.ledger.balance(1, "USD"), e.ledger.balance(1, "BTC")
    assert btc.available - before["BTC"][0] == D("0.5")
    assert usd.available + usd.reserved + D("25") == before["USD"][0] + before["USD"][1] - D(
        "25000"
    )
    e.on_trade("BTC-USD", D("47999"), D("1"), "t2", ts_event=7)
    assert e.drain()[0] == OrderTriggered(2, 7)
    assert e.drain() == []
