"""A backtest of the SMA crossover on 13 years of AAPL daily bars (mplfinance's file): the
same engines as paper trading, deterministic, its money exact, and its signals those of
an independent moving-average computation."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.core.formats import read_price_file
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.replay import file_trades
from tickstream.strategy.core.backtest import Backtest, Result
from tickstream.strategy.examples.sma_crossover import SmaCrossover
from tickstream.trading.core.events import Liquidity
from tickstream.trading.core.matching import Market, Rules
from tickstream.trading.core.orders import Side

FILE = (
    Path(__file__).parents[1]
    / "fixtures"
    / "mplfinance"
    / "yahoofinance-AAPL-20040819-20180120.csv"
)
CASH = Decimal(100_000)
RULES = Rules(maker_bps=Decimal(10), taker_bps=Decimal(20), slippage_bps=Decimal(5))


def _ticks() -> list[Tick]:
    prices = read_price_file(FILE)
    return [
        Tick("AAPL", price, size, ts, ts, "file", trade_id)
        for ts, price, size, trade_id in file_trades(prices)
    ]


def _run(ticks: list[Tick]) -> tuple[Result, SmaCrossover]:
    strategy = SmaCrossover("AAPL", fast=10, slow=30, interval="1d")
    spec = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK, tick_size=Decimal("0.000001"))
    market = Market("AAPL", "AAPL", "USD", tick=Decimal("0.000001"), step=Decimal(1))
    backtest = Backtest(
        strategy,
        [spec],
        [market],
        intervals=[parse_interval("1d")],
        indicators=parse_indicators("sma:10,sma:30"),
        cash={"USD": CASH},
        rules=RULES,
    )
    result = backtest.run(ticks)
    assert backtest.venue.ledger.conserved()  # nothing created or lost
    return result, strategy


def test_a_backtest_is_deterministic_and_its_money_exact() -> None:
    ticks = _ticks()
    result, _ = _run(ticks)
    again, _ = _run(ticks)
    assert result.fills == again.fills and result.balances == again.balances
    assert len(result.fills) >= 20 and result.rejected == []
    # The balances are the cash moved by the fills, to the unit: no float anywhere.
    cash, held = CASH, Decimal(0)
    for _, fill, _ in result.fills:
        value = fill.price * fill.quantity
        assert fill.liquidity is Liquidity.TAKER  # market orders take
        if fill.side is Side.BUY:
            cash -= value + fill.fee
            held += fill.quantity
        else:
            cash += value - fill.fee
            held -= fill.quantity
        # 20 bps on what it traded, rounded up to the money unit of the order.
        assert fill.fee >= value * Decimal("0.002")
    assert sum(result.balances["USD"]) == cash
    assert sum(result.balances.get("AAPL", (Decimal(0), Decimal(0)))) == held
    assert result.equity[-1][1] > 0


def test_the_signals_are_those_of_an_independent_moving_average() -> None:
    ticks = _ticks()
    result, _ = _run(ticks)
    closes = [bar.close for bar in read_price_file(FILE).bars]
    expected = []
    above = None
    for day in range(30, len(closes) + 1):
        fast = sum(closes[day - 10 : day]) / 10
        slow = sum(closes[day - 30 : day]) / 30
        now = fast > slow
        if above is not None and now != above:
            expected.append("buy" if now else "sell")
        above = now
    # Each crossing asked for an order, alternating from the first crossing up.
    first_buy = expected.index("buy")
    wanted = expected[first_buy:]
    sides = [message.split()[0] for _, message in result.logs]
    assert sides == wanted[: len(sides)] and len(sides) >= len(wanted) - 1


def test_orders_are_told_in_order_after_the_hook_that_asked() -> None:
    from tickstream.strategy.core.api import Context, OrderAccepted, OrderRejected, Strategy
    from tickstream.trading.core.events import OrderClosed

    told: list[tuple[str, str]] = []

    class Probe(Strategy):
        def on_start(self, ctx: Context) -> None:
            self.limit = ctx.buy("AAPL", Decimal(1), price=Decimal("1.000000"))
            self.too_big = ctx.buy("AAPL", Decimal(10**9), price=Decimal("1.000000"))
            told.append(("asked", "start"))

        def on_trade(self, ctx: Context, tick: Tick) -> None:
            if self.limit in ctx.open_orders():
                ctx.cancel(self.limit)
                told.append(("asked", "cancel"))

        def on_order(self, ctx: Context, order: str, update: object) -> None:
            told.append((order, type(update).__name__))
            if isinstance(update, OrderRejected):
                assert update.code == "insufficient_funds"
            if isinstance(update, OrderClosed):
                assert update.reason == "cancelled by its owner"
            if isinstance(update, OrderAccepted):
                assert update.ts_event == ctx.now_ns

    spec = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK, tick_size=Decimal("0.000001"))
    market = Market("AAPL", "AAPL", "USD", tick=Decimal("0.000001"), step=Decimal(1))
    backtest = Backtest(
        Probe(), [spec], [market], intervals=[parse_interval("1d")], indicators=(),
        cash={"USD": CASH}, rules=RULES,
    )  # fmt: skip
    backtest.run(_ticks()[:3])
    assert told == [
        ("asked", "start"),
        ("s1", "OrderAccepted"),
        ("s2", "OrderRejected"),
        ("asked", "cancel"),
        ("s1", "OrderClosed"),
    ]


def test_a_timer_fires_at_each_multiple_of_simulated_time_before_the_trade_past_it() -> None:
    from tickstream.strategy.core.api import Context, Strategy

    class Clock(Strategy):
        timer_s = 86_400.0 * 7  # weekly

        def __init__(self) -> None:
            self.fired: list[int] = []
            self.seen: list[int] = []

        def on_timer(self, ctx: Context) -> None:
            self.fired.append(ctx.now_ns)

        def on_trade(self, ctx: Context, tick: Tick) -> None:
            self.seen.append(tick.ts_event)

    ticks = _ticks()[:400]  # 100 daily bars
    spec = InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK, tick_size=Decimal("0.000001"))
    market = Market("AAPL", "AAPL", "USD", tick=Decimal("0.000001"), step=Decimal(1))
    clock = Clock()
    Backtest(
        clock, [spec], [market], intervals=[parse_interval("1d")], indicators=(),
        cash={"USD": CASH},
    ).run(ticks)  # fmt: skip
    week = int(clock.timer_s * 1e9)  # type: ignore[operator]
    first, last = ticks[0].ts_event, ticks[-1].ts_event
    assert clock.fired == list(range(first + week, last + 1, week))
    assert all(any(t >= f for t in clock.seen) for f in clock.fired)
