"""The paper client's edge: what the server sends is parsed and checked before it changes
anything; a fill waits for its trade; a failing strategy is stopped, its orders cancelled."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import Tick
from tickstream.strategy.core.api import Context, Strategy
from tickstream.strategy.paper import Paper

T0 = 1_795_000_000_000_000_000


class Recorder(Strategy):
    def __init__(self) -> None:
        self.told: list[Any] = []

    def on_trade(self, ctx: Context, tick: Tick) -> None:
        self.told.append(("trade", tick.price, ctx.balance("USD")))

    def on_fill(self, ctx: Context, order: str, fill: Any) -> None:
        self.told.append(("fill", order, fill.price))


def paper(strategy: Strategy) -> Paper:
    spec = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK)
    return Paper(
        strategy, url="", token="", symbols=["AAPL"], instruments=[spec],
        intervals=[parse_interval("1m")], indicators=[], prefix="p",
    )  # fmt: skip


def trade(seq: int, price: str, **data: Any) -> dict[str, Any]:
    ts = str(T0 + seq * 1_000_000)
    body = {"price": price, "size": "1", "ts_event": ts, "ts_recv": ts, "source": "x",
            "trade_id": None, **data}  # fmt: skip
    return {"type": "update", "channel": "trades:AAPL", "seq": seq, "data": body}


@pytest.mark.parametrize(
    "bad",
    [
        trade(1, "abc"),
        trade(1, "200", ts_event="-5"),
        trade(1, "200", ts_event=12),
        trade(1, "200", trade_id=["x"]),
        {"type": "update", "channel": "trades:AAPL", "seq": "1", "data": {}},
        {"type": "snapshot", "channel": "orders", "seq": 1, "data": {"balances": [{"x": 1}]}},
        {
            "type": "snapshot",
            "channel": "orders",
            "seq": 1,
            "data": {"balances": [{"currency": "USD", "available": "NaN", "reserved": "0"}]},
        },
    ],
)
def test_a_message_that_does_not_parse_changes_nothing(bad: dict[str, Any]) -> None:
    strategy = Recorder()
    p = paper(strategy)
    with pytest.raises(ValueError):  # Malformed: counted and logged by the reader
        p._take(bad)
    assert strategy.told == [] and p.trades_told == 0 and p.run_.balances == {}


def test_a_trade_the_market_core_refuses_is_not_told() -> None:
    strategy = Recorder()
    p = paper(strategy)
    p._take(trade(1, "1e999"))  # parses, and is refused as the server's core would
    assert strategy.told == [] and p.trades_told == 0
    assert "refused" in p.run_.logs[0][1]


def test_a_fill_that_arrives_before_its_trade_waits_for_it() -> None:
    strategy = Recorder()
    p = paper(strategy)
    p._take(
        {
            "type": "snapshot",
            "channel": "orders",
            "seq": 1,
            "data": {
                "balances": [{"currency": "USD", "available": "1000", "reserved": "0"}],
                "orders": [],
            },
        }
    )
    client = p.buy("AAPL", Decimal(1), price=Decimal(201))
    p._outbox.clear()
    order = {"id": 9, "client_order_id": client, "status": "filled", "triggered": False}
    fill = {"symbol": "AAPL", "side": "buy", "price": "200", "quantity": "1", "fee": "0.4",
            "liquidity": "taker", "trade": f"AAPL:{T0 + 2_000_000}:2"}  # fmt: skip
    p._take(trade(1, "200"))
    p._take(
        {
            "type": "update",
            "channel": "orders",
            "seq": 2,
            "data": {
                "event": "fill",
                "order": order,
                "fill": fill,
                "balances": [{"currency": "USD", "available": "799.6", "reserved": "0"}],
            },
        }
    )
    assert strategy.told == [("trade", Decimal(200), (Decimal(1000), Decimal(0)))]
    p._take(trade(2, "200"))  # its trade: on_trade sees the account before the fill
    assert strategy.told[1:] == [
        ("trade", Decimal(200), (Decimal(1000), Decimal(0))),
        ("fill", client, Decimal(200)),
    ]
    assert p.balance("USD") == (Decimal("799.6"), Decimal(0)) and p.open_orders() == []
    assert p.run_.fills[0][2] == T0 + 2_000_000  # the fill's time is its trade's


def test_a_strategy_that_raises_is_stopped_and_its_orders_are_to_be_cancelled() -> None:
    class Failing(Strategy):
        def on_trade(self, ctx: Context, tick: Tick) -> None:
            ctx.buy("AAPL", Decimal(1), price=Decimal(1))
            raise ZeroDivisionError("no")

    p = paper(Failing())
    p._take(trade(1, "200"))
    assert p.stopped.is_set() and p.run_.error == "ZeroDivisionError: no"
    assert p._outbox == [] and p.open_orders() == []  # what it asked in the failing hook: dropped
    p._take(trade(2, "201"))  # a stopped strategy hears nothing more
    assert p.trades_told == 2 and p.run_.error == "ZeroDivisionError: no"


async def test_a_connection_the_server_closes_ends_the_run_with_its_reason() -> None:
    import contextlib
    import json

    class Closing:
        """A socket that greets, answers the subscribe, then closes."""

        def __init__(self) -> None:
            self.frames = [
                {"type": "welcome", "version": 1, "user": 7, "flush_ms": 0},
                [{"type": "subscribed", "id": 0, "channels": ["orders"]},
                 {"type": "snapshot", "channel": "orders", "seq": 1, "epoch": 0, "reset": False,
                  "data": {"balances": [], "orders": [], "fills": []}}],
            ]  # fmt: skip

        async def recv(self) -> str:
            return json.dumps(self.frames.pop(0))

        async def send(self, text: str) -> None:
            pass

        def __aiter__(self) -> Closing:
            return self

        async def __anext__(self) -> str:
            if not self.frames:
                raise StopAsyncIteration
            return await self.recv()

    @contextlib.asynccontextmanager
    async def connect() -> Any:
        yield Closing()

    run = await paper(Recorder()).run(connect=connect(), duration_s=5)
    assert run.error == "the connection to the server closed"
