"""What a strategy is and what it sees (pure): the same in a backtest and in paper trading.

A strategy is a class with hooks; the runner calls them, and the strategy acts through its
`Context`. Orders are asked for, never awaited: `buy` and `sell` return the client order
id at once, and what the venue did comes back through `on_order` and `on_fill`, in the
order it happened. So one strategy file runs unchanged where the venue is in the process
(a backtest) and where it is a server away (paper trading over the websocket).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from tickstream.market.core.analytics.state import ClosedCandle
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.ticks import Tick
from tickstream.trading.core.events import Fill, OrderClosed, OrderTriggered
from tickstream.trading.core.orders import OrderType, Side, TimeInForce


@dataclass(frozen=True, slots=True)
class OrderAccepted:
    """The venue took an order in (it rests, or fills at the next trades)."""

    ts_event: int


@dataclass(frozen=True, slots=True)
class OrderRejected:
    """The venue refused an order; `code` says why (`insufficient_funds`, `bad_step`...)."""

    code: str
    message: str
    ts_event: int


class Context(Protocol):
    """What a strategy reads and does. Money and quantities are `Decimal`."""

    @property
    def now_ns(self) -> int:
        """The clock: the time of the trade being handled (a backtest's is simulated)."""
        ...

    def balance(self, currency: str) -> tuple[Decimal, Decimal]:
        """(available, reserved) of a currency or asset."""
        ...

    def position(self, symbol: str) -> Decimal:
        """What is held of an instrument (its base asset, available and reserved)."""
        ...

    def open_orders(self) -> list[str]:
        """The client order ids of the orders still open."""
        ...

    def last_price(self, symbol: str) -> Decimal | None: ...

    def indicators(self, symbol: str, interval: str) -> Mapping[str, float | None]:
        """The market core's incremental indicators on the forming candle of `interval`
        (the same engine the dashboard reads)."""
        ...

    def order(
        self,
        side: Side,
        symbol: str,
        quantity: Decimal,
        *,
        price: Decimal | None = None,
        type: OrderType | None = None,
        stop_price: Decimal | None = None,
        tif: TimeInForce = TimeInForce.GTC,
    ) -> str:
        """Ask for an order: a market order (IOC unless told), or a limit with `price`;
        the client order id, at once."""
        ...

    def buy(self, symbol: str, quantity: Decimal, **options: Any) -> str:
        """`order(Side.BUY, ...)`, with the same options."""
        return self.order(Side.BUY, symbol, quantity, **options)

    def sell(self, symbol: str, quantity: Decimal, **options: Any) -> str:
        """`order(Side.SELL, ...)`, with the same options."""
        return self.order(Side.SELL, symbol, quantity, **options)

    def cancel(self, order: str) -> None: ...

    def log(self, message: str) -> None: ...


OrderUpdate = OrderAccepted | OrderRejected | OrderClosed | OrderTriggered


def order_kind(
    price: Decimal | None, type: OrderType | None, tif: TimeInForce
) -> tuple[OrderType, TimeInForce]:
    """What `Context.order` asks for: a limit with a price, else a market order, which is
    IOC unless told."""
    kind = type or (OrderType.LIMIT if price is not None else OrderType.MARKET)
    if kind is OrderType.MARKET and tif is TimeInForce.GTC:
        tif = TimeInForce.IOC
    return kind, tif


class ReadsMarket:
    """The Context's reads of the runner's own market core (`self.market`), the same in
    every mode."""

    market: MarketEngine

    def last_price(self, symbol: str) -> Decimal | None:
        state = self.market.states.get(symbol)
        return None if state is None or state.quote.last is None else state.quote.last

    def indicators(self, symbol: str, interval: str) -> Mapping[str, float | None]:
        state = self.market.states.get(symbol)
        if state is None:
            return {}
        for series in state.series:
            if series.interval.name == interval:
                return dict(series.last_values)
        raise KeyError(f"interval {interval!r} is not kept in this run")


class Strategy:
    """Override the hooks you need; each gets the context first."""

    timer_s: float | None = None  # `on_timer` every this many seconds of the run's clock

    def indicators(self) -> str:
        """The indicator specs it reads (`sma:10,rsi:14`): a runner keeps them."""
        return ""

    def on_start(self, ctx: Context) -> None:
        """Before the first trade."""

    def on_trade(self, ctx: Context, tick: Tick) -> None:
        """A trade of a followed symbol, after the venue matched it against open orders."""

    def on_candle(self, ctx: Context, symbol: str, closed: ClosedCandle) -> None:
        """A candle of a kept interval closed, with its indicators' values at the close."""

    def on_order(self, ctx: Context, order: str, update: OrderUpdate) -> None:
        """What happened to its order `order` (a client order id): accepted, rejected,
        triggered, closed."""

    def on_fill(self, ctx: Context, order: str, fill: Fill) -> None:
        """Its order `order` filled (partly or wholly)."""

    def on_timer(self, ctx: Context) -> None:
        """Every `timer_s` seconds: of simulated time in a backtest (each multiple after the
        first trade, before the trade that passes it), of the wall clock in paper trading."""

    def on_stop(self, ctx: Context) -> None:
        """After the last trade."""
