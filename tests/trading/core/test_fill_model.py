"""`docs/trading.md`, rule by rule: each test is named after the section it checks and
replays the document's example with the engine."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.trading.core.matching import Engine, Market, OrderError, Rules
from tickstream.trading.core.orders import Order, OrderType, Side, Status, TimeInForce

D = Decimal
AAPL = Market("AAPL", "AAPL", "USD", tick=D("0.01"), step=D("1"))
DOGE = Market("DOGE-USD", "DOGE", "USD", tick=D("0.00001"), step=D("1"))
DOC_RULES = Rules(maker_bps=D(10), taker_bps=D(20), slippage_bps=D(5))


def venue(rules: Rules = DOC_RULES) -> Engine:
    e = Engine([AAPL, DOGE], rules)
    for currency, amount in (("USD", "100000"), ("AAPL", "1000"), ("DOGE", "100000")):
        e.ledger.deposit(1, currency, D(amount))
    return e


def limit(n: int, side: Side, price: str, quantity: int = 10, **kw: object) -> Order:
    fields: dict[str, object] = {"symbol": "AAPL", **kw}
    return Order(
        n, 1, side=side, type=OrderType.LIMIT, quantity=D(quantity), price=D(price), **fields
    )  # type: ignore[arg-type]


def seen(fills: list) -> list[tuple[int, Decimal, Decimal, str]]:  # type: ignore[type-arg]
    return [(f.order, f.quantity, f.price, f.liquidity) for f in fills]


# --- "A limit that does not cross rests" ---


def test_a_buy_limit_below_the_market_rests_and_fills_at_its_limit_as_maker() -> None:
    e = venue()
    e.on_trade("AAPL", D("105.00"), D(1))
    bid = limit(1, Side.BUY, "100.00")
    e.place(bid)  # 100 < 105: it does not cross, it rests
    fills = e.on_trade("AAPL", D("99.00"), D(50))  # the market trades through it
    assert seen(fills) == [(1, D(10), D("100.00"), "maker")]
    assert fills[0].fee == D("1.00")  # 10 bps of 1,000.00, the maker rate


def test_a_sell_limit_above_the_market_rests_and_fills_at_its_limit_as_maker() -> None:
    e = venue()
    e.on_trade("AAPL", D("100.00"), D(1))
    e.place(limit(1, Side.SELL, "104.00"))
    assert seen(e.on_trade("AAPL", D("106.00"), D(50))) == [(1, D(10), D("104.00"), "maker")]


def test_a_limit_that_crosses_on_arrival_takes_capped_at_its_limit() -> None:
    e = venue()
    e.on_trade("AAPL", D("100.00"), D(1))
    e.place(limit(1, Side.BUY, "100.03"))  # at or above the last trade: marketable
    fills = e.on_trade("AAPL", D("100.00"), D(50))
    # the trade's price plus 5 bps slippage (100.05), capped at the limit, as taker
    assert seen(fills) == [(1, D(10), D("100.03"), "taker")]
    assert fills[0].fee == D("2.01")  # 20 bps of 1,000.30, rounded up


def test_a_limit_with_no_market_yet_rests() -> None:
    e = venue()
    e.place(limit(1, Side.BUY, "100.00"))  # nothing has traded: nothing to cross
    assert seen(e.on_trade("AAPL", D("99.00"), D(50))) == [(1, D(10), D("100.00"), "maker")]


def test_a_triggered_stop_limit_is_marketable_only_if_it_crosses_its_trigger_trade() -> None:
    e = venue()
    e.on_trade("AAPL", D("100.00"), D(1))
    stop = Order(1, 1, "AAPL", Side.BUY, OrderType.STOP_LIMIT, D(10), price=D("101.00"))
    stop.stop_price = D("100.50")
    e.place(stop)
    e.on_trade("AAPL", D("100.50"), D(1))  # triggers; its limit 101 crosses 100.50
    assert seen(e.on_trade("AAPL", D("100.60"), D(50))) == [(1, D(10), D("100.66"), "taker")]


# --- "Stops with IOC or FOK act on the trade after their trigger" ---


def test_a_stop_ioc_waits_for_its_trigger_and_then_takes_one_trade() -> None:
    e = venue()
    e.on_trade("AAPL", D("100.00"), D(1))
    stop = Order(1, 1, "AAPL", Side.SELL, OrderType.STOP, D(10), stop_price=D("95.00"))
    stop.tif = TimeInForce.IOC
    e.place(stop)
    assert e.on_trade("AAPL", D("99.00"), D(50)) == [] and stop.is_open  # not cancelled
    assert e.on_trade("AAPL", D("95.00"), D(50)) == [] and stop.triggered
    fills = e.on_trade("AAPL", D("94.00"), D(4))  # its one trade: 4 fill, the rest ends
    assert seen(fills) == [(1, D(4), D("93.95"), "taker")]
    assert stop.status is Status.CANCELLED and e.ledger.conserved()


def test_a_stop_fok_fills_whole_on_the_trade_after_its_trigger_or_not_at_all() -> None:
    e = venue()
    e.on_trade("AAPL", D("100.00"), D(1))
    whole = Order(1, 1, "AAPL", Side.BUY, OrderType.STOP, D(10), stop_price=D("101.00"))
    whole.tif = TimeInForce.FOK
    short = Order(2, 1, "AAPL", Side.BUY, OrderType.STOP, D(10), stop_price=D("102.00"))
    short.tif = TimeInForce.FOK
    e.place(whole)
    e.place(short)
    e.on_trade("AAPL", D("101.00"), D(1))  # triggers the first
    assert seen(e.on_trade("AAPL", D("101.00"), D(10))) == [(1, D(10), D("101.06"), "taker")]
    e.on_trade("AAPL", D("102.00"), D(1))  # triggers the second
    assert e.on_trade("AAPL", D("102.00"), D(9)) == []  # 9 < 10: nothing
    assert short.status is Status.CANCELLED and short.filled == 0


# --- "The queue drains by the volume traded at the price" ---


def test_two_orders_at_a_price_and_one_trade_past_both_places_fill_both() -> None:
    e = venue()
    e.on_trade("AAPL", D("101.00"), D(1))
    e.place(limit(1, Side.BUY, "100.00"))
    e.place(limit(2, Side.BUY, "100.00"))
    # 10 ahead of each (queue factor 1); 30 trade at 100: 20 are past each place in line
    fills = e.on_trade("AAPL", D("100.00"), D(30))
    assert seen(fills) == [(1, D(10), D("100.00"), "maker"), (2, D(10), D("100.00"), "maker")]


def test_participation_bounds_what_fills_not_how_fast_the_queue_drains() -> None:
    e = venue(Rules(maker_bps=D(0), taker_bps=D(0), participation=D("0.1")))
    e.on_trade("AAPL", D("101.00"), D(1))
    e.place(limit(1, Side.BUY, "100.00"))
    # 100 at its price: the 10 ahead trade first, 90 are past it, 10 % of 100 is paper's
    assert seen(e.on_trade("AAPL", D("100.00"), D(100))) == [(1, D(10), D("100.00"), "maker")]


def test_touching_is_not_filling() -> None:
    e = venue()
    e.on_trade("AAPL", D("101.00"), D(1))
    e.place(limit(1, Side.BUY, "100.00"))
    assert e.on_trade("AAPL", D("100.00"), D(6)) == []  # 6 of the 10 ahead
    assert seen(e.on_trade("AAPL", D("100.00"), D(7))) == [(1, D(3), D("100.00"), "maker")]


def test_orders_the_trade_cannot_reach_still_move_up_the_queue() -> None:
    e = venue(Rules(maker_bps=D(0), taker_bps=D(0), participation=D("0.5")))
    e.on_trade("AAPL", D("101.00"), D(1))
    e.place(limit(1, Side.BUY, "100.00"))
    e.place(limit(2, Side.BUY, "100.00"))
    # 20 trade at 100: each has 10 past it, paper's share is 10: all of it to the first
    assert seen(e.on_trade("AAPL", D("100.00"), D(20))) == [(1, D(10), D("100.00"), "maker")]
    # the second's place was passed by the same 20: the next trade at 100 reaches it
    assert seen(e.on_trade("AAPL", D("100.00"), D(2))) == [(2, D(1), D("100.00"), "maker")]


# --- "Fees: rounded once per order" ---


def test_the_documented_example_fifty_one_at_a_time_never_goes_negative() -> None:
    e = venue(Rules(maker_bps=D(10), taker_bps=D(10), slippage_bps=D(0)))
    e.on_trade("AAPL", D("2.01"), D(1))
    bid = limit(1, Side.BUY, "2.00", quantity=50)
    e.place(bid)
    fees = [e.on_trade("AAPL", D("1.99"), D(1))[0].fee for _ in range(50)]
    assert bid.status is Status.FILLED
    # 10 bps of 2.00 is 0.002 a share: the running total rounds up to the cent
    assert fees[:6] == [D("0.01"), D(0), D(0), D(0), D(0), D("0.01")]
    assert min(fees) >= 0 and sum(fees) == D("0.10") == bid.fees  # 10 bps of 100.00
    assert e.ledger.balance(1, "USD").reserved == 0 and e.ledger.conserved()


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.integers(1, 400), min_size=1, max_size=30),
    st.sampled_from([D(0), D(1), D("7.5"), D(10), D(25)]),
    st.sampled_from([D(0), D(1), D("7.5"), D(10), D(25)]),
    st.integers(1, 99_999),
    st.booleans(),
)
def test_fees_are_the_orders_rate_rounded_once_however_it_is_split(
    parts: list[int], maker: Decimal, taker: Decimal, cents: int, marketable: bool
) -> None:
    """An order's fees: never a negative fill fee, and in total exactly its rates times its
    maker and taker values, rounded up once to the money unit."""
    e = venue(Rules(maker_bps=maker, taker_bps=taker, slippage_bps=D(0)))
    price = D(cents) / 100000
    e.on_trade("DOGE-USD", price if marketable else price + D("0.00001"), D(1))
    quantity = sum(parts)
    bid = Order(1, 1, "DOGE-USD", Side.BUY, OrderType.LIMIT, D(quantity), price=price)
    e.place(bid)
    fills = []
    for part in parts:
        fills += e.on_trade("DOGE-USD", price, D(part) + quantity)  # past its queue
    assert bid.status is Status.FILLED
    assert all(f.fee >= 0 for f in fills)
    rate = {"maker": maker, "taker": taker}
    owed = sum((f.price * f.quantity * rate[f.liquidity] / 10_000 for f in fills), D(0))
    unit = DOGE.tick * DOGE.step
    assert sum(f.fee for f in fills) == (owed / unit).to_integral_value("ROUND_CEILING") * unit
    assert e.ledger.balance(1, "USD").reserved == 0 and e.ledger.conserved()


# --- "Money is exact" ---


def test_an_instrument_whose_money_unit_a_balance_cannot_keep_is_not_traded() -> None:
    tiny = Market("TINY-USD", "TINY", "USD", tick=D("1e-8"), step=D("1e-4"))
    e = Engine([tiny], DOC_RULES)
    e.ledger.deposit(1, "USD", D(100))
    order = Order(1, 1, "TINY-USD", Side.BUY, OrderType.LIMIT, D(1), price=D("0.00000100"))
    with pytest.raises(OrderError) as refused:
        e.place(order)
    assert refused.value.code == "unsupported_instrument" and e.ledger.conserved()
