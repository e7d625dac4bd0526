"""The venue in the running system: orders placed through the services rest in the engine
that the pipeline calls, fill against live trades, and every fill is stored once, with
exact balances, pushed to the owner and recorded in a linked portfolio."""

from __future__ import annotations

import asyncio
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.factories import stored_quote
from tests.stream.conftest import Market, connect, frames, request, until
from tests.trading.conftest import balances, funded, place, reload, resting, written
from tickstream.portfolio.models import Transaction
from tickstream.portfolio.services import portfolio_create
from tickstream.trading import services
from tickstream.trading.hook import MatchingHook, _noticed, pure_order
from tickstream.trading.models import Fill, Order
from tickstream.trading.selectors import order_notice

pytestmark = pytest.mark.django_db(transaction=True)
D = Decimal


async def test_a_limit_buy_rests_then_fills_when_the_market_trades_through(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("BTC-USD", "50000")
    user, key, account = await database_sync_to_async(funded)()
    order = await database_sync_to_async(place)(
        user, symbol="BTC-USD", side="buy", type="limit", quantity="0.5", price="49000"
    )
    # Reserved: 0.5 x 49,000 plus the highest fee (20 bps) = 24,549.
    assert await database_sync_to_async(balances)(account) == {"USD": (D("75451"), D("24549"))}
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
    snapshot = next(m for m in got if m["type"] == "snapshot")["data"]
    assert [o["id"] for o in snapshot["orders"]] == [order.pk]
    await resting(venue, order)

    market.trade("BTC-USD", "49500")  # above the limit: nothing
    market.trade("BTC-USD", "48900", size="2")  # through it: filled at the limit, a maker
    await until(lambda: venue.fills == 1)
    await written(venue)
    order = await reload(order)
    assert order.status == "filled" and order.filled == D("0.5") and order.held == 0
    fill = await Fill.objects.aget(order=order)
    # 0.5 x 49,000 = 24,500, maker fee 10 bps = 24.5; the unused fee reserve is released.
    assert (fill.price, fill.quantity, fill.fee, fill.liquidity) == (
        D("49000"), D("0.5"), D("24.5"), "maker"
    )  # fmt: skip
    assert await database_sync_to_async(balances)(account) == {
        "USD": (D("100000") - D("24500") - D("24.5"), D(0)),
        "BTC": (D("0.5"), D(0)),
    }
    got = await frames(ws, expect=lambda m: m.get("data", {}).get("event") == "fill")
    fills = [m["data"] for m in got if m["type"] == "update" and m["data"]["event"] == "fill"]
    assert len(fills) == 1 and fills[0]["order"]["status"] == "filled"
    assert fills[0]["fill"]["price"] == "49000" and fills[0]["fill"]["liquidity"] == "maker"
    assert {b["currency"]: b["available"] for b in fills[0]["balances"]} == {
        "USD": "75475.5",
        "BTC": "0.5",
    }
    await ws.disconnect()


async def test_touching_the_limit_fills_only_after_the_queue_ahead_has_traded(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("AAPL", "231")
    user, _, _ = await database_sync_to_async(funded)()
    order = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="limit", quantity="10", price="230"
    )
    await resting(venue, order)
    for size in ("4", "5"):  # 9 of the 10 ahead of it trade at its price: still waiting
        market.trade("AAPL", "230", size=size)
    await written(venue)
    assert venue.fills == 0
    market.trade("AAPL", "230", size="3")  # the last 1 ahead, then 2 for this order
    await until(lambda: venue.fills == 1)
    await written(venue)
    order = await reload(order)
    assert order.status == "partially_filled" and order.filled == 2


async def test_a_market_buy_fills_on_the_next_trade_with_slippage_and_a_taker_fee(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("AAPL", "200")
    await database_sync_to_async(stored_quote)("AAPL", "200")  # the price the API reserves at
    user, _, account = await database_sync_to_async(funded)("10000")
    buy = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="market", quantity="10"
    )
    await resting(venue, buy)
    market.trade("AAPL", "200", size="100")
    await until(lambda: venue.fills == 1)
    await written(venue)
    buy = await reload(buy)
    # 200 + 5 bps slippage = 200.10; 10 shares = 2001, taker fee 20 bps = 4.002, charged
    # up to the next cent: 4.01.
    assert buy.status == "filled" and buy.notional == D("2001")
    assert buy.fees == D("4.01")
    held = await database_sync_to_async(balances)(account)
    usd, aapl = held["USD"], held["AAPL"]
    assert usd == (D("10000") - D("2001") - D("4.01"), D(0)) and aapl == (D("10"), D(0))


async def test_an_ioc_order_keeps_its_first_fill_and_cancels_the_rest(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("MSFT", "400")
    user, _, account = await database_sync_to_async(funded)()
    order = await database_sync_to_async(place)(
        user, symbol="MSFT", side="buy", type="limit", quantity="10", price="401",
        time_in_force="IOC",
    )  # fmt: skip
    await resting(venue, order)
    market.trade("MSFT", "400.5", size="4")  # through the limit: 4 of 10, the rest cancelled
    await until(lambda: venue.fills == 1)
    await written(venue)
    order = await reload(order)
    assert order.status == "cancelled" and order.filled == 4 and order.held == 0
    assert "IOC" in order.reason
    usd = (await database_sync_to_async(balances)(account))["USD"]
    assert usd[1] == 0  # nothing left reserved


async def test_a_cancel_releases_the_funds_and_the_engine_drops_the_order(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("AAPL", "230")
    user, _, account = await database_sync_to_async(funded)()
    order = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="limit", quantity="1", price="229"
    )
    await resting(venue, order)
    await database_sync_to_async(services.order_cancel)(order=order)
    await until(lambda: venue.engine is not None and order.pk not in venue.engine.orders)
    market.trade("AAPL", "228")  # would have filled it
    await written(venue)
    assert venue.fills == 0
    assert await database_sync_to_async(balances)(account) == {"USD": (D("100000"), D(0))}
    with pytest.raises(services.TradingError) as refused:
        await database_sync_to_async(services.order_cancel)(order=order)
    assert refused.value.code == "not_cancellable"


async def test_a_fill_over_an_order_that_changed_meanwhile_is_never_written(
    market: Market, venue: MatchingHook
) -> None:
    """The owner cancels while the engine's fill waits for the database: the stale fill
    is refused, the engine reloads the order, and it is neither filled nor left held.
    Refused by the database (the order's version moved), or void before it is written
    when the cancel's notice reached the engine first (it reloads the order then): which
    one comes first is the race itself, and either must leave no fill."""
    market.trade("AAPL", "230")
    user, _, account = await database_sync_to_async(funded)()
    order = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="limit", quantity="1", price="229"
    )
    await resting(venue, order)
    venue._tasks[0].cancel()  # hold the writer: the fill will wait in the queue
    market.trade("AAPL", "228")
    await until(lambda: not venue._queue.empty())
    await database_sync_to_async(services.order_cancel)(order=order)
    venue._tasks[0] = __import__("asyncio").create_task(venue._write_loop())
    await until(lambda: venue.stale + venue.voided == 1)
    await written(venue)
    order = await reload(order)
    assert order.status == "cancelled" and order.filled == 0
    assert await Fill.objects.filter(order=order).acount() == 0
    assert await database_sync_to_async(balances)(account) == {"USD": (D("100000"), D(0))}
    assert venue.engine is not None and order.pk not in venue.engine.orders


async def test_a_poll_that_rereads_an_order_the_engine_holds_keeps_its_place_in_line(
    market: Market, venue: MatchingHook
) -> None:
    """The poll (or a notice) reads an order again that the engine took in meanwhile, as
    it is in the database: the engine keeps it where it was. Dropped and taken in again,
    the first of two bids at one price would queue behind the second, and the trade
    would fill the later order first."""
    market.trade("ETH-USD", "3000")
    user, _, _ = await database_sync_to_async(funded)()
    first, second = [
        await database_sync_to_async(place)(
            user, symbol="ETH-USD", side="buy", type="limit", quantity="1", price="2990"
        )
        for _ in range(2)
    ]
    await resting(venue, first)
    await resting(venue, second)
    assert venue.engine is not None
    seq = venue.engine.orders[first.pk].seq
    await venue.reload({first.pk, second.pk})
    assert venue.engine.orders[first.pk].seq == seq
    assert venue.engine.orders[first.pk].seq < venue.engine.orders[second.pk].seq
    market.trade("ETH-USD", "2980", size="1")  # room for one: the first in line
    await until(lambda: venue.fills == 1)
    await written(venue)
    assert [(await reload(o)).status for o in (first, second)] == ["filled", "new"]


async def test_a_restarted_engine_rebuilds_the_resting_orders_from_the_database(
    market: Market, venue: MatchingHook, settings: object
) -> None:
    market.trade("ETH-USD", "3000")
    user, _, _ = await database_sync_to_async(funded)()
    orders = [
        await database_sync_to_async(place)(
            user, symbol="ETH-USD", side="buy", type="limit", quantity="1", price=price
        )
        for price in ("2990", "2980")
    ]
    stop = await database_sync_to_async(place)(
        user, symbol="ETH-USD", side="buy", type="stop", quantity="1", stop_price="3100"
    )
    for order in orders:
        await resting(venue, order)
    await venue.stop()
    market.pipeline.hooks.remove(venue)

    again = MatchingHook()
    await again.start()
    market.pipeline.hooks.append(again)
    try:
        assert set(again.engine.orders) == {orders[0].pk, orders[1].pk, stop.pk}  # type: ignore[union-attr]
        market.trade("ETH-USD", "2985", size="5")  # fills the 2990 bid only
        await until(lambda: again.fills == 1)
        await written(again)
        assert [(await reload(o)).status for o in orders] == ["filled", "new"]
    finally:
        await again.stop()


async def test_fills_are_recorded_in_a_linked_portfolio(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("AAPL", "230")
    user, _, account = await database_sync_to_async(funded)()
    portfolio = await database_sync_to_async(portfolio_create)(owner=user, name="Paper")
    await database_sync_to_async(services.account_link)(account=account, portfolio=portfolio)
    await database_sync_to_async(services.transfer_make)(account=account, amount=D("500"))
    order = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="limit", quantity="2", price="229.5"
    )
    await resting(venue, order)
    market.trade("AAPL", "229", size="10")
    await until(lambda: venue.fills == 1)
    await written(venue)
    rows = [
        (t.kind, t.quantity, t.price, t.fee)
        async for t in Transaction.objects.filter(portfolio=portfolio).order_by("id")
    ]
    # Below the market (230) on arrival, it rested: a maker at its limit when the market
    # traded through it, fee 10 bps of 459.00 rounded up to the cent.
    assert rows == [("deposit", D(500), D(0), D(0)), ("buy", D(2), D("229.5"), D("0.46"))]


async def test_orders_are_placed_and_cancelled_over_the_websocket(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("BTC-USD", "50000")
    user, key, account = await database_sync_to_async(funded)()
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
    order = {"symbol": "BTC-USD", "side": "buy", "type": "limit", "quantity": "0.1",
             "price": "45000", "client_order_id": "ws-1"}  # fmt: skip
    got = await request(ws, {"op": "order.place", "id": 7, "order": order})
    result = next(m for m in got if m["type"] == "result")
    assert result["id"] == 7 and result["data"]["created"] is True
    placed = result["data"]["order"]
    assert placed["status"] == "new" and placed["reserved"] == "4509"
    pushed = [m["data"] for m in got if m["type"] == "update"]
    assert pushed and pushed[0]["event"] == "order" and pushed[0]["order"]["id"] == placed["id"]

    again = await request(ws, {"op": "order.place", "id": 8, "order": order})  # same id
    result = next(m for m in again if m["type"] == "result")
    assert result["data"]["created"] is False and result["data"]["order"]["id"] == placed["id"]

    too_big = {**order, "client_order_id": "ws-2", "quantity": "100"}
    refused = await request(ws, {"op": "order.place", "id": 9, "order": too_big})
    assert [(m["type"], m["id"], m["code"]) for m in refused] == [
        ("error", 9, "insufficient_funds")
    ]
    off_step = {**order, "client_order_id": "ws-3", "price": "45000.001"}
    bad = await request(ws, {"op": "order.place", "id": 10, "order": off_step})
    assert bad[0]["code"] == "bad_step" and bad[0]["id"] == 10

    got = await request(ws, {"op": "order.cancel", "id": 11, "order_id": placed["id"]})
    result = next(m for m in got if m["type"] == "result")
    assert result["id"] == 11 and result["data"]["order"]["status"] == "cancelled"
    again = await request(ws, {"op": "order.cancel", "id": 12, "order_id": placed["id"]})
    assert again[0]["code"] == "not_cancellable"
    assert await database_sync_to_async(balances)(account) == {"USD": (D("100000"), D(0))}
    assert await Order.objects.filter(account=account).acount() == 1
    await ws.disconnect()


async def test_a_failing_request_is_answered_and_the_socket_goes_on(
    market: Market, venue: MatchingHook, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An order past every balance is refused with its code (it ended the connection
    without a close frame); any fault of the server is an `internal_error` frame."""
    market.trade("AAPL", "230")
    _, key, _ = await database_sync_to_async(funded)()
    ws = await connect(f"/ws/v1/?token={key}")
    await frames(ws)
    huge = {"symbol": "AAPL", "side": "buy", "type": "limit", "quantity": "99999999999999",
            "price": "999999999999.99"}  # fmt: skip
    got = await request(ws, {"op": "order.place", "id": 5, "order": huge})
    assert [(m["type"], m["id"], m["code"]) for m in got] == [("error", 5, "insufficient_funds")]

    from tickstream.stream import registry

    async def broken(user: Any, params: Any) -> Any:
        raise RuntimeError("a bug")

    monkeypatch.setitem(registry._operations, "order.place", broken)
    got = await request(ws, {"op": "order.place", "id": 6, "order": huge})
    assert [(m["type"], m["id"], m["code"]) for m in got] == [("error", 6, "internal_error")]
    got = await request(ws, {"op": "ping", "id": 7})
    assert got[0]["type"] == "pong" and got[0]["id"] == 7
    await ws.disconnect()


async def test_anonymous_sockets_cannot_trade(market: Market, venue: MatchingHook) -> None:
    ws = await connect("/ws/v1/")
    await frames(ws)
    got = await request(ws, {"op": "order.cancel", "id": 3, "order_id": 1})
    assert [(m["type"], m["code"]) for m in got] == [("error", "not_authenticated")]
    got = await request(ws, {"op": "subscribe", "id": 4, "channels": ["orders"]})
    assert got[0]["code"] == "forbidden"
    await ws.disconnect()


async def test_a_day_order_expires_with_its_session_and_frees_its_funds(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("AAPL", "230")
    user, _, account = await database_sync_to_async(funded)()
    order = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="limit", quantity="3", price="200",
        time_in_force="DAY",
    )  # fmt: skip
    assert order.expires_at is not None and order.expires_at.hour in (20, 21)  # 16:00 NY
    await resting(venue, order)
    venue.expire(order.expires_at - timedelta(seconds=1))  # not yet
    assert order.pk in venue.engine.orders  # type: ignore[union-attr]
    venue.expire(order.expires_at)
    await written(venue)
    order = await reload(order)
    assert order.status == "expired" and order.held == 0 and "session" in order.reason
    assert await database_sync_to_async(balances)(account) == {"USD": (D("100000"), D(0))}


async def test_the_orders_channel_reaches_its_owner_only(
    market: Market, venue: MatchingHook
) -> None:
    market.trade("AAPL", "230")
    user, key, _ = await database_sync_to_async(funded)()
    _, other_key, _ = await database_sync_to_async(funded)()
    sockets = []
    for token in (key, other_key):
        ws = await connect(f"/ws/v1/?token={token}")
        await frames(ws)
        await request(ws, {"op": "subscribe", "id": 1, "channels": ["orders"]})
        sockets.append(ws)
    await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="limit", quantity="1", price="229"
    )
    mine = await frames(sockets[0], expect=lambda m: m.get("type") == "update")
    theirs = await frames(sockets[1])
    assert [m["data"]["event"] for m in mine if m["type"] == "update"] == ["order"]
    assert [m for m in theirs if m["type"] == "update"] == []
    for ws in sockets:
        await ws.disconnect()


async def _market_buy_at_200(market: Market) -> tuple[Any, Order]:
    """AAPL trading at 200, and a funded user's market buy of one placed (committed)."""
    market.trade("AAPL", "200")
    await database_sync_to_async(stored_quote)("AAPL", "200")
    user, _, _ = await database_sync_to_async(funded)("10000")
    buy = await database_sync_to_async(place)(
        user, symbol="AAPL", side="buy", type="market", quantity="1"
    )
    return user, buy


async def test_a_placed_order_meets_a_trade_50_ms_later_without_polling(
    market: Market, settings: Any
) -> None:
    """Orders reach the engine by a notice on commit: with the poll a minute away, a
    market buy placed now fills on a trade 50 ms later, and a cancel leaves the engine
    (before, the engine saw either only at its next poll, TRADING_POLL_S later)."""
    settings.TRADING_POLL_S = 60
    hook = MatchingHook()
    await hook.start()
    market.pipeline.hooks.append(hook)
    try:
        user, buy = await _market_buy_at_200(market)
        rest = await database_sync_to_async(place)(
            user, symbol="AAPL", side="buy", type="limit", quantity="1", price="150"
        )
        await until(lambda: hook.engine is not None and rest.pk in hook.engine.orders, 2.0)
        # Taken in from the notice, without a read: as the database holds it.
        row = await reload(rest)
        noticed = _noticed(order_notice(row))
        assert pure_order(noticed) == pure_order(row)
        assert (noticed.held, noticed.version, noticed.created_at) == (
            row.held,
            row.version,
            row.created_at,
        )
        assert hook.engine is not None and hook.engine.held[rest.pk] == row.held
        await asyncio.sleep(0.05)
        market.trade("AAPL", "200", size="100")
        await until(lambda: hook.fills == 1, timeout=2.0)
        assert hook.engine is not None and rest.pk in hook.engine.orders
        await database_sync_to_async(services.order_cancel)(order=rest)
        await until(lambda: hook.engine is not None and rest.pk not in hook.engine.orders, 2.0)
        await written(hook)
        assert (await reload(buy)).status == "filled"
        assert len(hook.placement_ms) == 2
    finally:
        await hook.stop()


async def test_a_marketable_order_meets_the_first_trade_after_its_commit(
    market: Market, settings: Any
) -> None:
    """The engine in this process has an order at its commit (the notice is handed over
    in the committing thread, and taken before the next trade is matched): a market buy
    placed now fills on the very next trade, with no turn of the event loop between."""
    settings.TRADING_POLL_S = 60
    hook = MatchingHook()
    await hook.start()
    market.pipeline.hooks.append(hook)

    async def later(message: dict[str, Any]) -> None:
        """(The notice as the broker brings it, after a turn of the loop: left out here,
        so only what was handed over at the commit can bring the order in time.)"""

    assert hook._notices is not None
    hook._notices.handle = later
    try:
        _, buy = await _market_buy_at_200(market)
        market.trade("AAPL", "201", size="100")
        assert hook.engine is not None and buy.pk not in hook.engine.orders  # filled
        await until(lambda: hook.fills == 1, timeout=2.0)
        await written(hook)
        filled = await reload(buy)
        assert filled.status == "filled" and filled.notional > D("200.5")  # at the 201 trade
        assert hook.late == 0 and len(hook.placement_ms) == 1
    finally:
        await hook.stop()
