"""Backtest = paper, proved: a strategy trades on a real server (uvicorn, the websocket
protocol, the database, the matching hook) fed by a replayed capture; the trades it was
told are its tape; a backtest of the same strategy on that tape gives the same fills
(time, price, quantity, fee, maker or taker, the trade) and the same final balances.

The feed plays in lockstep: the next trade is ingested once everything the last one caused
has settled (the strategy heard the trade, its orders reached the engine, the engine's
events are written and told back). That is the backtest's latency 0: an order asked while
handling a trade reaches the venue before the next one. (Where the two could differ, a
live strategy's reaction time, the backtest's `latency_ms` models it.)
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Iterable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from channels.db import database_sync_to_async

from tests.market.feeds.venue_replay import VENUES
from tests.stream.conftest import Market, serve
from tests.stream.conftest import market as market  # the live market, embedded
from tests.trading.conftest import funded
from tests.trading.conftest import venue as venue  # the matching hook on the test's pipeline
from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import parse_interval
from tickstream.market.core.formats import read_price_file
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.replay import file_trades
from tickstream.market.models import Instrument
from tickstream.market.selectors import instrument_specs
from tickstream.market.upserts import BatchStore
from tickstream.market.writer import BatchWriter
from tickstream.strategy.core.api import Context, Strategy
from tickstream.strategy.core.backtest import Limits, Result
from tickstream.strategy.examples.market_maker import MarketMaker
from tickstream.strategy.examples.rsi_reversion import RsiReversion
from tickstream.strategy.examples.sma_crossover import SmaCrossover
from tickstream.strategy.paper import Paper, Run, backtest_of
from tickstream.stream import events
from tickstream.stream.registry import user_channel_group
from tickstream.trading import selectors
from tickstream.trading.core.orders import OrderType, Side, TimeInForce
from tickstream.trading.hook import MatchingHook

pytestmark = pytest.mark.django_db(transaction=True)

FIXTURES = Path(__file__).parents[1] / "fixtures"
D = Decimal


def okx_btc() -> list[Tick]:
    """The 69 BTC-USDT trades of a recorded OKX session, as BTC-USD ticks (their own
    prices, sizes, times and trade ids)."""
    ticks = []
    for t in VENUES["okx"].recorded_trades():
        ns = t.ts_ms * 1_000_000
        ticks.append(Tick("BTC-USD", t.price, t.size, ns, ns, "okx", t.trade_id))
    return ticks


def spy_days(count: int) -> list[Tick]:
    """`count` daily bars of SPY (mplfinance's file) replayed as trades, as the file feed
    replays bars (open, high, low, close, in the bar's order), as AAPL ticks."""
    bars = read_price_file(FIXTURES / "mplfinance" / "yahoofinance-SPY-20200901-20210113.csv")
    return [
        Tick("AAPL", price, size, ts, ts, "file", trade_id)
        for ts, price, size, trade_id in file_trades(bars)
    ][: count * 4]


async def _settled(paper: Paper, hook: MatchingHook, group: str, told: int) -> bool:
    if paper.trades_told < told or paper._asked or paper._outbox or paper._held:
        return False
    if not hook._queue.empty() or any(k.pending for k in hook.known.values()):
        return False
    engine = hook.engine
    assert engine is not None
    for client in paper._open:  # every open order is at the engine (or its end is on its way)
        server_id = paper._server_ids.get(client)
        if server_id is None or server_id not in engine.orders:
            return False
    current = await database_sync_to_async(events.current)(group)
    return paper.orders_seq >= current


async def lockstep(paper: Paper, hook: MatchingHook, group: str, told: int) -> None:
    try:
        async with asyncio.timeout(10):
            # Twice in a row: what one settled step told the strategy may ask for more.
            while not (  # noqa: ASYNC110 - the state is spread over the client and the engine
                await _settled(paper, hook, group, told)
                and await _settled(paper, hook, group, told)
            ):
                await asyncio.sleep(0.003)
    except TimeoutError:
        current = await database_sync_to_async(events.current)(group)
        raise AssertionError(
            f"not settled after trade {told}: told {paper.trades_told}, asked {paper._asked},"
            f" outbox {paper._outbox}, held {list(paper._held)}, open {paper._open},"
            f" engine {sorted(hook.engine.orders) if hook.engine else None}, orders seq"
            f" {paper.orders_seq} of {current}, error {paper.run_.error}"
        ) from None


async def paper_then_backtest(
    market: Market,
    hook: MatchingHook,
    make: Callable[[], Strategy],
    ticks: Iterable[Tick],
    *,
    symbol: str,
    cash: str,
    interval: str = "1d",
) -> tuple[Run, Result]:
    # The market's writer, flushed by hand in Django's database thread (SQLite takes one
    # writer): the quote the API reserves a market buy at is the last trade's.
    store, writer = BatchStore(), BatchWriter(lambda batch: None)
    market.pipeline.writer = writer
    user, key, _ = await database_sync_to_async(funded)(cash)
    group = user_channel_group(type("Ref", (), {"name": "orders"})(), user)  # type: ignore[arg-type]
    specs = await database_sync_to_async(instrument_specs)()
    strategy = make()
    async with serve() as host:
        paper = Paper(
            strategy,
            url=f"ws://{host}/ws/v1/",
            token=key,
            symbols=[symbol],
            instruments=specs,
            intervals=[parse_interval(interval)],
            indicators=parse_indicators(strategy.indicators()),
        )
        task = asyncio.create_task(paper.run())
        await asyncio.wait_for(paper.ready.wait(), 10)
        await lockstep(paper, hook, group, 0)
        for n, tick in enumerate(ticks, 1):
            assert market.pipeline.ingest(tick, live=False) is None
            await database_sync_to_async(store)(writer.collect())
            await lockstep(paper, hook, group, n)
        paper.stop()
        run = await asyncio.wait_for(task, 15)
    market.pipeline.writer = None
    await writer.stop()
    assert run.error is None and run.gaps == 0 and run.malformed == 0
    markets = await database_sync_to_async(
        lambda: [selectors.market_of(i) for i in Instrument.objects.filter(symbol=symbol)]
    )()
    limits = Limits(orders_per_second=10_000)  # the server's own, set for the test below
    result = backtest_of(
        make(), paper, markets, cash={"USD": D(cash)}, rules=selectors.rules(), limits=limits
    )
    return run, result


def same_fills(run: Run, result: Result) -> None:
    def key(fills: list[Any]) -> list[tuple[Any, ...]]:
        return [
            (order.rsplit("-", 1)[-1], f.side, f.price, f.quantity, f.fee, f.liquidity, f.trade, ns)
            for order, f, ns in fills
        ]

    def story() -> str:  # what each side asked and what came of it, for a failure
        asked = {c.rsplit("-", 1)[-1]: o for c, o in run.orders.items()}
        lines = [f"{c}: paper {asked.get(c)} / backtest {o}" for c, o in result.orders.items()]
        rejected = f"rejected: paper {run.rejected} / backtest {result.rejected}"
        return "\n".join([*lines, rejected])

    assert key(run.fills) == key(result.fills), story()
    nonzero = {c: b for c, b in result.balances.items() if any(b)}
    assert {c: b for c, b in run.balances.items() if any(b)} == nonzero
    assert [c.rsplit("-", 1)[-1] for c, _ in run.rejected] == [c for c, _ in result.rejected]


@pytest.fixture
def fast(settings: Any) -> None:
    settings.STREAM_FLUSH_MS = 0  # each update at once: the lockstep waits for nothing else
    settings.TRADING_ORDERS_PER_SECOND = 10_000  # a wall-clock cap; the tape plays faster


async def test_the_market_maker_quotes_fill_the_same_in_paper_and_backtest(
    market: Market, venue: MatchingHook, fast: None
) -> None:
    maker = lambda: MarketMaker(  # noqa: E731
        "BTC-USD", size=D("0.001"), spread=1, requote=300, max_position=D("0.003")
    )
    run, result = await paper_then_backtest(
        market, venue, maker, okx_btc(), symbol="BTC-USD", cash="1000"
    )
    assert len(run.tape) == 69
    same_fills(run, result)
    assert {f.liquidity for _, f, _ in result.fills} == {"maker"}  # the queue model's fills
    assert len(result.fills) >= 3


async def test_candle_strategies_trade_the_same_in_paper_and_backtest(
    market: Market, venue: MatchingHook, fast: None
) -> None:
    ticks = spy_days(60)
    rsi = lambda: RsiReversion("AAPL", period=3, low=D(35), high=D(65))  # noqa: E731
    run, result = await paper_then_backtest(market, venue, rsi, ticks, symbol="AAPL", cash="20000")
    same_fills(run, result)
    assert len(result.fills) >= 4 and {f.side for _, f, _ in result.fills} == {"buy", "sell"}


async def test_the_sma_crossover_trades_the_same_in_paper_and_backtest(
    market: Market, venue: MatchingHook, fast: None
) -> None:
    sma = lambda: SmaCrossover("AAPL", fast=3, slow=8)  # noqa: E731
    run, result = await paper_then_backtest(
        market, venue, sma, spy_days(60), symbol="AAPL", cash="20000"
    )
    same_fills(run, result)
    assert len(result.fills) >= 2


class Script(Strategy):
    """Random orders and cancels of every type and time in force but DAY (a session's end
    is the server's wall clock), from a seed: the engine's random scripts, through the
    strategy API."""

    def __init__(self, seed: int, symbol: str, step: Decimal) -> None:
        self.random = random.Random(seed)  # noqa: S311 - a test's script, not a secret
        self.symbol, self.step = symbol, step
        self.asked: list[str] = []

    def on_trade(self, ctx: Context, tick: Tick) -> None:
        r = self.random
        for _ in range(r.choice((0, 0, 1, 2))):
            if self.asked and r.random() < 0.3:
                ctx.cancel(r.choice(self.asked))
                continue
            kind = r.choice(list(OrderType))
            tif = r.choice([TimeInForce.GTC, TimeInForce.IOC, TimeInForce.FOK])
            if kind is OrderType.MARKET and tif is TimeInForce.GTC:
                tif = TimeInForce.IOC
            price = (tick.price * (1 + D(r.randint(-6, 6)) / 10_000)).quantize(D("0.01"))
            stop = (tick.price * (1 + D(r.randint(-6, 6)) / 10_000)).quantize(D("0.01"))
            held = ctx.position(self.symbol) // self.step
            side = Side.SELL if held and r.random() < 0.5 else Side.BUY
            steps = r.randint(1, int(held) if side is Side.SELL else 30)
            self.asked.append(
                ctx.order(
                    side,
                    self.symbol,
                    self.step * steps,
                    price=price if kind in (OrderType.LIMIT, OrderType.STOP_LIMIT) else None,
                    type=kind,
                    stop_price=stop if kind in (OrderType.STOP, OrderType.STOP_LIMIT) else None,
                    tif=tif,
                )
            )


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_scripts_through_the_strategy_api_fill_the_same(
    market: Market, venue: MatchingHook, fast: None, seed: int
) -> None:
    make = lambda: Script(seed, "BTC-USD", D("0.0001"))  # noqa: E731
    run, result = await paper_then_backtest(
        market, venue, make, okx_btc(), symbol="BTC-USD", cash="50000"
    )
    same_fills(run, result)
    assert len(result.orders) >= 20 and len(result.fills) >= 5
