"""RSI mean reversion: buy when the RSI of closed candles falls below `low` (oversold),
sell what is held when it rises above `high` (overbought). Market orders, sized to the
cash the account has."""

from __future__ import annotations

from decimal import ROUND_DOWN, Decimal

from tickstream.market.core.analytics.state import ClosedCandle
from tickstream.strategy.core.api import Context, Strategy

MARKET_BUY_RESERVE = Decimal("1.06")  # a market buy reserves the last price + 5 % + fee


class RsiReversion(Strategy):
    def __init__(
        self,
        symbol: str,
        *,
        period: int = 14,
        low: Decimal = Decimal(30),
        high: Decimal = Decimal(70),
        interval: str = "1d",
        share: Decimal = Decimal(1),
        step: Decimal = Decimal(1),
        cash: str = "USD",
    ) -> None:
        if not 0 < low < high < 100:
            raise ValueError("0 < low < high < 100")
        if not 0 < share <= 1:
            raise ValueError("share is the part of the cash a buy spends: 0 < share <= 1")
        self.symbol, self.interval, self.step, self.cash = symbol, interval, step, cash
        self.period, self.low, self.high, self.share = period, low, high, share
        self.rsi = f"rsi_{period}"

    def indicators(self) -> str:
        return f"rsi:{self.period}"

    def on_candle(self, ctx: Context, symbol: str, closed: ClosedCandle) -> None:
        if symbol != self.symbol or closed.interval.name != self.interval:
            return
        rsi = closed.values.get(self.rsi)
        if rsi is None or ctx.open_orders():
            return  # not warm yet, or an order is on its way
        held = ctx.position(symbol)
        if rsi < self.low and held == 0:
            available, _ = ctx.balance(self.cash)
            price = ctx.last_price(symbol) or Decimal(closed.candle.close)
            quantity = (available * self.share / (price * MARKET_BUY_RESERVE)).quantize(
                self.step, rounding=ROUND_DOWN
            )
            if quantity > 0:
                ctx.buy(symbol, quantity)
                ctx.log(f"buy {quantity} {symbol}: RSI {rsi:.1f} < {self.low}")
        elif rsi > self.high and held > 0:
            ctx.sell(symbol, held)
            ctx.log(f"sell {held} {symbol}: RSI {rsi:.1f} > {self.high}")
