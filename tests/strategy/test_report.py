"""The report's figures against empyrical (Quantopian's performance library, kept as
empyrical-reloaded) on the same equity curve, and its money against the fills."""

from __future__ import annotations

from decimal import Decimal

import empyrical
import pandas as pd
import pytest

from tests.strategy.test_backtest import CASH, _run, _ticks
from tickstream.strategy.core.report import DAY_NS, drawdown, figures, round_trips
from tickstream.trading.core.events import Fill, Liquidity
from tickstream.trading.core.orders import Side

D = Decimal


def test_the_figures_of_a_backtest_are_empyricals() -> None:
    result, _ = _run(_ticks())
    f = figures(
        equity=result.equity, fills=result.fills, start=CASH,
        first_ns=result.first_ns, last_ns=result.last_ns,
    )  # fmt: skip
    assert f.period == "1d"
    # The daily returns, computed here with pandas from the raw curve.
    curve = pd.Series(
        [float(v) for _, v in result.equity],
        index=pd.to_datetime([ns for ns, _ in result.equity], unit="ns"),
    )
    daily = pd.concat([pd.Series([float(CASH)]), curve.groupby(curve.index.floor("D")).last()])
    returns = daily.reset_index(drop=True).pct_change().dropna()
    assert len(returns) > 2000
    assert f.sharpe == pytest.approx(empyrical.sharpe_ratio(returns, period="daily"), rel=1e-9)
    assert f.sortino == pytest.approx(empyrical.sortino_ratio(returns, period="daily"), rel=1e-9)
    assert f.volatility == pytest.approx(empyrical.annual_volatility(returns), rel=1e-9)
    assert f.annualised_return == pytest.approx(empyrical.annual_return(returns), rel=1e-9)
    assert f.max_drawdown == pytest.approx(empyrical.max_drawdown(returns), rel=1e-9)
    assert f.total_return == pytest.approx(empyrical.cum_returns_final(returns), rel=1e-9)
    # Money: what the round trips made, plus what is held at the end, is the change.
    trips = round_trips(result.fills)
    assert f.trades == len(trips) >= 10
    assert f.fees == sum(fill.fee for _, fill, _ in result.fills)
    wins = [t for t in trips if t.result > 0]
    assert f.win_rate == len(wins) / len(trips)
    # The round trips' results are the cash the closed trips moved, counted here from the
    # fills; the end is the cash plus what is held at the last price.
    cash, position, flat_cash = CASH, D(0), CASH
    for _, fill, _ in result.fills:
        value = fill.price * fill.quantity
        if fill.side is Side.BUY:
            cash, position = cash - value - fill.fee, position + fill.quantity
        else:
            cash, position = cash + value - fill.fee, position - fill.quantity
        if position == 0:
            flat_cash = cash
    assert sum(t.result for t in trips) == flat_cash - CASH
    held = sum(result.balances.get("AAPL", (D(0), D(0))))
    assert held == position > 0  # the run ends holding: the end counts it at the last price
    assert f.end == sum(result.balances["USD"]) + held * _ticks()[-1].price
    assert 0 < f.exposure < 1  # type: ignore[operator]


def fill(side: Side, price: str, quantity: str, fee: str = "0") -> Fill:
    return Fill(1, 1, "AAPL", side, D(price), D(quantity), D(fee), Liquidity.TAKER, "t")


def test_round_trips_go_flat_to_flat_and_count_every_fee() -> None:
    day = DAY_NS
    fills = [
        ("a", fill(Side.BUY, "10", "2", "0.1"), 0),
        ("b", fill(Side.BUY, "12", "1", "0.1"), day),
        ("c", fill(Side.SELL, "11", "3", "0.1"), 2 * day),  # 33 - 32 - 0.3 = 0.7
        ("d", fill(Side.BUY, "11", "1"), 3 * day),
        ("e", fill(Side.SELL, "10", "1"), 4 * day),  # -1
    ]
    trips = round_trips(fills)
    assert [t.result for t in trips] == [D("0.7"), D(-1)]
    f = figures(equity=[], fills=fills, start=D(100), first_ns=0, last_ns=10 * day)
    assert f.win_rate == 0.5 and f.average_win == D("0.7") and f.average_loss == D(-1)
    assert f.exposure == pytest.approx(0.3)  # open days 0-2 and 3-4 of 10


def test_a_figure_that_cannot_be_computed_is_none_and_shown_as_a_dash() -> None:
    f = figures(equity=[], fills=[], start=D(1000), first_ns=None, last_ns=None)
    assert f.sharpe is None and f.win_rate is None and f.average_win is None
    shown = dict(f.rows("USD"))
    assert shown["Sharpe"] == "—" and shown["win rate"] == "—"
    assert shown["total return"] == "0.00 %"


def test_the_drawdown_lasts_from_its_peak_to_the_recovery() -> None:
    days = [0, 1, 4, 5, 8, 9]  # a weekend between, say
    values = [D(100), D(120), D(90), D(110), D(125), D(100)]
    worst, seconds = drawdown([(d * DAY_NS, v) for d, v in zip(days, values, strict=True)])
    assert worst == pytest.approx(-0.25)  # 120 -> 90
    assert seconds == 7 * 86_400  # the peak on day 1, back above 120 on day 8
    worst, seconds = drawdown([(0, D(100)), (DAY_NS, D(50)), (3 * DAY_NS, D(60))])
    assert worst == pytest.approx(-0.5) and seconds == 3 * 86_400  # never recovered
