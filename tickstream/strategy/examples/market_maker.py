"""A simple market maker: a bid `spread` price steps under the last trade and, while it
holds inventory, an ask as far above; quotes that the market left behind by more than
`requote` steps are cancelled and placed again. Limit orders only, so its fills are the
queue model's: a quote fills when the volume ahead of it at its price has traded, or when
the market trades through it. Inventory is capped at `max_position`."""

from __future__ import annotations

from decimal import Decimal

from tickstream.market.core.ticks import Tick
from tickstream.strategy.core.api import Context, OrderRejected, OrderUpdate, Strategy
from tickstream.trading.core.events import Fill, OrderClosed
from tickstream.trading.core.orders import Side


class MarketMaker(Strategy):
    def __init__(
        self,
        symbol: str,
        *,
        size: Decimal = Decimal(1),
        spread: int = 2,
        requote: int = 4,
        max_position: Decimal = Decimal(5),
        tick: Decimal = Decimal("0.01"),
    ) -> None:
        if spread < 1 or requote < 1:
            raise ValueError("spread and requote are at least one price step")
        if size <= 0 or max_position < size:
            raise ValueError("0 < size <= max_position")
        self.symbol, self.size, self.tick = symbol, size, tick
        self.spread, self.requote, self.max_position = spread, requote, max_position
        self.quotes: dict[Side, tuple[str, Decimal]] = {}  # side -> (order, price)
        self.cancelling: set[str] = set()
        self.fills = 0

    def on_trade(self, ctx: Context, tick: Tick) -> None:
        if tick.symbol != self.symbol:
            return
        steps = (tick.price / self.tick).to_integral_value()
        for order, price in list(self.quotes.values()):
            if order not in self.cancelling and abs(price / self.tick - steps) > self.requote:
                ctx.cancel(order)
                self.cancelling.add(order)
        held = ctx.position(self.symbol)
        if Side.BUY not in self.quotes and held + self.size <= self.max_position:
            self._quote(ctx, Side.BUY, (steps - self.spread) * self.tick)
        if Side.SELL not in self.quotes and held >= self.size:
            self._quote(ctx, Side.SELL, (steps + self.spread) * self.tick)

    def _quote(self, ctx: Context, side: Side, price: Decimal) -> None:
        if price <= 0:
            return
        order = ctx.order(side, self.symbol, self.size, price=price)
        self.quotes[side] = (order, price)

    def on_fill(self, ctx: Context, order: str, fill: Fill) -> None:
        self.fills += 1

    def on_order(self, ctx: Context, order: str, update: OrderUpdate) -> None:
        if isinstance(update, OrderClosed | OrderRejected):
            for side, (quoted, _) in list(self.quotes.items()):
                if quoted == order:
                    del self.quotes[side]
            self.cancelling.discard(order)
