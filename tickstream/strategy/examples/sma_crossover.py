"""An SMA crossover: all in when the fast average closes above the slow one, all out when
it closes below. Runs in a backtest and in paper trading alike (`strategy/core/api.py`)."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from tickstream.market.core.analytics.state import ClosedCandle
from tickstream.strategy.core.api import Context, Strategy

MARKET_BUY_RESERVE = Decimal("1.06")


class SmaCrossover(Strategy):
    def __init__(
        self,
        symbol: str,
        *,
        fast: int = 10,
        slow: int = 30,
        interval: str = "1d",
        step: Decimal = Decimal(1),
        cash: str = "USD",
    ) -> None:
        if not 0 < fast < slow:
            raise ValueError("fast must be shorter than slow")
        self.symbol, self.interval, self.step, self.cash = symbol, interval, step, cash
        self.fast, self.slow = f"sma_{fast}", f"sma_{slow}"
        self.above: bool | None = None  # where the fast average closed last time

    def indicators(self) -> str:
        return f"{self.fast.replace('_', ':')},{self.slow.replace('_', ':')}"

    def on_candle(self, ctx: Context, symbol: str, closed: ClosedCandle) -> None:
        if symbol != self.symbol or closed.interval.name != self.interval:
            return
        fast, slow = closed.values.get(self.fast), closed.values.get(self.slow)
        if fast is None or slow is None:
            return  # not warm yet
        above = fast > slow
        crossed = self.above is not None and above != self.above
        self.above = above
        if not crossed or ctx.open_orders():
            return
        held = ctx.position(symbol)
        if above and held == 0:
            available, _ = ctx.balance(self.cash)
            price = ctx.last_price(symbol) or Decimal(closed.candle.close)
            # A market buy reserves the last price plus the venue's collar (5 %) and the
            # taker fee: what the cash buys within that.
            quantity = (available / (price * MARKET_BUY_RESERVE)).quantize(
                self.step, rounding=ROUND_DOWN
            )
            if quantity > 0:
                ctx.buy(symbol, quantity)
                ctx.log(f"buy {quantity} {symbol}: {self.fast} crossed above {self.slow}")
        elif not above and held > 0:
            ctx.sell(symbol, held)
            ctx.log(f"sell {held} {symbol}: {self.fast} crossed below {self.slow}")
