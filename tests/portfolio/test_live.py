"""The live `portfolio:<id>` channel: a snapshot of the valuation, then updates as held
instruments trade (conflated per flush) and as transactions change (published on commit);
only the owner may subscribe."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.factories import user_with_token
from tests.portfolio.conftest import add, apply_marks
from tests.stream.conftest import Market, connect, frames, request
from tickstream.portfolio.services import portfolio_create

pytestmark = pytest.mark.django_db(transaction=True)


def _setup() -> tuple[Any, str, Any]:
    user, key = user_with_token()
    portfolio = portfolio_create(owner=user, name="Live")
    add(portfolio, kind="deposit", quantity="10000")
    add(portfolio, kind="buy", symbol="AAPL", quantity="10", price="200", fee="1")
    add(portfolio, kind="buy", symbol="MSFT", quantity="2", price="400")
    return user, key, portfolio


async def _open(path: str) -> Any:
    ws = await connect(path)
    await frames(ws)  # the welcome
    return ws


async def _subscribed(market: Market, *trades: tuple[str, str]) -> tuple[Any, str, Any, Any, str]:
    """The market has traded `trades`; the owner of a fresh portfolio (`_setup`) has
    subscribed to it. Returns the connection, the channel, the portfolio, the frames the
    subscribe got and the owner's token."""
    for symbol, price in trades:
        market.trade(symbol, price)
    await market.delivered()
    _, key, portfolio = await database_sync_to_async(_setup)()
    channel = f"portfolio:{portfolio.pk}"
    ws = await _open(f"/ws/v1/?token={key}")
    got = await request(ws, {"op": "subscribe", "id": 1, "channels": [channel]})
    return ws, channel, portfolio, got, key


def _updates(got: list[Any], channel: str) -> list[Any]:
    return [m for m in got if m.get("channel") == channel and m["type"] == "update"]


def _holding(data: Any, symbol: str) -> Any:
    return next(h for h in data["holdings"] if h["symbol"] == symbol)


async def test_the_owner_gets_a_valuation_that_moves_with_the_market(market: Market) -> None:
    ws, channel, portfolio, got, key = await _subscribed(market, ("AAPL", "210"), ("MSFT", "400"))
    assert [m["type"] for m in got] == ["subscribed", "snapshot"]
    snap = got[1]["data"]
    assert snap["id"] == portfolio.pk and snap["method"] == "fifo"
    aapl = _holding(snap, "AAPL")
    # 10 @ 200 + 1 fee = 2001 cost; at 210: 2100 value, +99 unrealized.
    assert aapl["price"] == "210.00" and aapl["market_value"] == "2100.00"
    assert aapl["cost_basis"] == "2001.00" and aapl["unrealized_pnl"] == "99.00"
    assert snap["totals"]["market_value"] == "2900.00"
    assert snap["totals"]["cash"] == "7199.00"
    assert snap["totals"]["value"] == "10099.00"

    # Three AAPL trades in one flush: one update (marks), at the last price.
    for price in ("211", "212", "215.5"):
        market.trade("AAPL", price)
    await market.settle()
    updates = _updates(await frames(ws), channel)
    assert len(updates) == 1
    marks = updates[0]["data"]
    assert marks["prices"]["AAPL"][0] == "215.50" and marks["version"] == snap["version"]
    assert marks["totals"]["market_value"] == "2955.00"
    assert _holding(apply_marks(snap, marks), "AAPL")["market_value"] == "2155.00"
    assert updates[0]["seq"] == got[1]["seq"] + 1

    # An instrument the portfolio does not hold changes nothing.
    market.trade("NVDA", "140")
    await market.settle()
    assert _updates(await frames(ws), channel) == []
    await ws.disconnect()


async def test_a_new_transaction_reaches_the_open_page_at_once(market: Market) -> None:
    ws, channel, portfolio, got, key = await _subscribed(
        market, ("AAPL", "210"), ("MSFT", "400"), ("NVDA", "150")
    )
    state = got[1]["data"]

    await database_sync_to_async(add)(
        portfolio, kind="buy", symbol="NVDA", quantity="4", price="145"
    )
    updates = _updates(await frames(ws, expect=lambda m: m.get("channel") == channel), channel)
    assert updates, "no update after the transaction"
    for update in updates:
        state = apply_marks(state, update["data"])
    assert state["version"] > 1  # the change came whole, with its new basis
    nvda = _holding(state, "NVDA")
    assert (
        nvda["quantity"] == "4" and nvda["price"] == "150.00" and nvda["market_value"] == "600.00"
    )

    # The new holding now follows the market too.
    market.trade("NVDA", "151")
    await market.settle()
    for update in _updates(await frames(ws), channel):
        state = apply_marks(state, update["data"])
    assert _holding(state, "NVDA")["market_value"] == "604.00"

    # Selling everything of a symbol drops it, and its trades move nothing any more.
    await database_sync_to_async(add)(
        portfolio, kind="sell", symbol="MSFT", quantity="2", price="401"
    )
    for update in _updates(await frames(ws, expect=lambda m: m.get("channel") == channel), channel):
        state = apply_marks(state, update["data"])
    assert [h["symbol"] for h in state["holdings"]] == ["AAPL", "NVDA"]
    assert state["totals"]["realized_pnl"] == "2.00"
    market.trade("MSFT", "390")
    await market.settle()
    assert _updates(await frames(ws), channel) == []
    await ws.disconnect()


async def test_valuation_on_the_channel_equals_a_fresh_read(market: Market) -> None:
    """Snapshot + updates = fresh snapshot: after a run of trades, the last update equals
    the valuation a new subscriber (built from the transactions) starts from."""
    ws, channel, portfolio, got, key = await _subscribed(market, ("AAPL", "210"), ("MSFT", "400"))
    state = got[1]["data"]
    prices = ["210.01", "209.37", "212.44", "208.10", "213.99"]
    for n, price in enumerate(prices):
        market.trade("AAPL", price)
        market.trade("MSFT", str(Decimal("400.07") + n))
        await market.settle()
        for update in _updates(await frames(ws), channel):
            state = apply_marks(state, update["data"])
    fresh = await _open(f"/ws/v1/?token={key}")
    got = await request(fresh, {"op": "subscribe", "id": 2, "channels": [channel]})
    assert got[1]["data"] == state
    await ws.disconnect()
    await fresh.disconnect()


async def test_only_the_owner_may_subscribe(market: Market) -> None:
    _, _, portfolio = await database_sync_to_async(_setup)()
    _, other_key = await database_sync_to_async(user_with_token)()
    channel = f"portfolio:{portfolio.pk}"
    for path in (f"/ws/v1/?token={other_key}", "/ws/v1/"):
        ws = await _open(path)
        got = await request(ws, {"op": "subscribe", "id": 7, "channels": [channel]})
        errors = [m for m in got if m["type"] == "error"]
        assert errors and errors[0]["code"] == "forbidden" and errors[0]["id"] == 7
        await ws.disconnect()
    ws = await _open(f"/ws/v1/?token={other_key}")
    got = await request(ws, {"op": "subscribe", "id": 8, "channels": ["portfolio:999999"]})
    assert [m["code"] for m in got if m["type"] == "error"] == ["forbidden"]
    await ws.disconnect()
