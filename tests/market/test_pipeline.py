"""The live pipeline: one broker message per symbol per tick, numbered, in order."""

from __future__ import annotations

import asyncio
from decimal import Decimal

import pytest
from channels.layers import InMemoryChannelLayer

from tickstream.market.broker import GroupNameError, market_group
from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.messages import MESSAGE_TYPE_TICK
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.pipeline import Pipeline, Publisher

T0 = 1_700_000_000 * NS_PER_S
SPECS = [
    InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK),
    InstrumentSpec("BTC-USD", "Bitcoin", InstrumentKind.CRYPTO),
]


def _pipeline(layer: InMemoryChannelLayer, **kwargs: object) -> Pipeline:
    engine = MarketEngine(
        SPECS, STANDARD_INTERVALS, parse_indicators("sma:2,macd:3:5:2"), max_delay_s=None
    )
    return Pipeline(engine, publisher=Publisher(layer.group_send), **kwargs)  # type: ignore[arg-type]


async def test_the_ticks_of_one_turn_of_the_loop_are_one_numbered_message_to_the_group() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(market_group("AAPL"), channel)
    pipeline = _pipeline(layer)
    task = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    for i in range(50):
        for sym in ("AAPL", "BTC-USD"):
            price = Decimal(100 + i % 7)
            assert (
                pipeline.ingest(
                    Tick(sym, price, Decimal(1), T0 + i * NS_PER_S, T0 + i * NS_PER_S, "t")
                )
                is None
            )
    assert (
        pipeline.ingest(
            Tick("AAPL", Decimal(-1), Decimal(1), T0 + 60 * NS_PER_S, T0 + 60 * NS_PER_S, "t")
        )
        is not None
    )
    await asyncio.sleep(0)  # the loop turns: what each symbol took goes out
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await task
    # The 50 ticks of AAPL taken in one turn of the loop: one message, every trade in it,
    # numbered 1 to 50, and the state once (as after the last).
    (last,) = [await layer.receive(channel)]
    assert last["symbol"] == "AAPL"  # only the group it joined
    assert last["type"] == MESSAGE_TYPE_TICK and last["epoch"] == pipeline.epoch
    assert (last["first"], last["seq"]) == (1, 50)
    assert [t["price"] for t in last["trades"]] == [str(Decimal(100 + i % 7)) for i in range(50)]
    assert set(last["candles"]) == {"1s", "1m", "5m", "15m", "1h", "1d"}
    assert last["quote"]["trades"] == 50
    # Each second is a new 1s candle, so every tick but the first closes the previous
    # second's one (and one crosses a minute): each numbered by the tick that closed it.
    closed = list(zip(last["closed_seq"], [c["interval"] for c in last["closed"]], strict=True))
    assert [s for s, interval in closed if interval == "1s"] == list(range(2, 51))
    assert [interval for _, interval in closed].count("1m") == 1
    assert "analysis" in last  # indicators ride along
    assert set(last["analysis"]["1m"]) == {
        "sma_2",
        "macd_3_5_2",
        "macd_signal_3_5_2",
        "macd_hist_3_5_2",
    }
    assert pipeline.stats()["rejected"] == {"bad_price": 1}


async def test_analysis_is_sent_at_most_every_interval() -> None:
    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(market_group("AAPL"), channel)
    pipeline = _pipeline(layer, analysis_every_ms=100)
    task = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    base = T0 + 500_000_000  # within one second: no 1s candle closes
    for i in range(10):  # 10 ticks, 20 ms apart: 200 ms, each alone in a turn of the loop
        ts = base + i * 20_000_000
        pipeline.ingest(Tick("AAPL", Decimal(100), Decimal(1), ts, ts, "t"))
        await asyncio.sleep(0)
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await task
    flags = ["analysis" in (await layer.receive(channel)) for _ in range(10)]
    assert flags == [True, False, False, False, False, True, False, False, False, False]


async def test_publish_overflow_is_counted_not_silent() -> None:
    sent: list[str] = []

    async def send(group: str, message: dict) -> None:
        sent.append(group)

    publisher = Publisher(send, capacity=3)
    for _ in range(5):
        publisher.offer("md.X", {})
    assert publisher.dropped == 2
    task = asyncio.create_task(publisher.run())
    await publisher.stop()
    await task
    assert len(sent) == 3 and publisher.sent == 3


def test_group_names_obey_channels_rules() -> None:
    assert market_group("BRK.B") == "md.BRK.B"
    with pytest.raises(GroupNameError):
        market_group("BAD SYMBOL")
    with pytest.raises(GroupNameError):
        market_group("X" * 120)


async def test_a_first_start_backfills_the_simulated_past_then_goes_live_from_it() -> None:
    import contextlib
    import time

    from tickstream.market.feeds.simulated import BACKFILL_RATE, SimulatedFeed

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(market_group("AAPL"), channel)
    pipeline = _pipeline(layer)
    feed = SimulatedFeed(SPECS, seed=3, rate=50, backfill_s=600)
    end = time.time_ns()
    past = list(feed.history(end))
    times = [t.ts_event for t in past]
    assert times == sorted(times) and end - 600 * NS_PER_S <= times[0] and times[-1] < end
    assert 0.6 * 600 * BACKFILL_RATE < len(past) < 1.4 * 600 * BACKFILL_RATE
    assert pipeline.backfill(past) == len(past)
    assert pipeline.publisher.backlog() == 0  # type: ignore[union-attr]  # nothing published
    state = pipeline.engine.states["AAPL"]
    aapl = [t for t in past if t.symbol == "AAPL"]
    assert state.quote.trades == len(aapl) and state.quote.last == aapl[-1].price
    # The live market starts from the last backfilled prices, with trade ids of its own.
    assert feed.specs[0].start_price == aapl[-1].price
    rejected = []
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(feed.run(lambda t: rejected.append(pipeline.ingest(t))), 0.5)
    assert rejected and set(rejected) == {None}


def _tick(i: int, symbol: str = "AAPL", price: str = "100") -> Tick:
    return Tick(symbol, Decimal(price), Decimal(1), T0 + i * NS_PER_S, T0 + i * NS_PER_S, "t")


async def test_a_tick_that_makes_a_stage_fail_is_counted_dropped_and_the_market_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    layer = InMemoryChannelLayer()
    pipeline = _pipeline(layer)
    assert pipeline.ingest(_tick(0)) is None
    real = pipeline.engine.process

    def broken(tick: Tick, *, live: bool = True) -> object:
        if tick.price == Decimal("666"):
            raise ArithmeticError("a bug deep in the state update")
        return real(tick, live=live)

    monkeypatch.setattr(pipeline.engine, "process", broken)
    problem = pipeline.ingest(_tick(1, price="666"))
    assert problem is not None and problem.reason.value == "internal_error"
    assert "666" in caplog.text  # logged with the tick
    # The rest of the market goes on, numbered without a hole.
    assert pipeline.ingest(_tick(2, price="101")) is None
    assert pipeline.ingest(_tick(3, "BTC-USD", "60000")) is None
    assert pipeline.engine.seq == {"AAPL": 2, "BTC-USD": 1}
    assert pipeline.stats()["faults"] == {"engine": 1}


async def test_a_failing_message_build_is_contained_and_leaves_a_visible_gap(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import tickstream.market.pipeline as pipeline_module

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(market_group("AAPL"), channel)
    pipeline = _pipeline(layer)
    task = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    real = pipeline_module.batch_message

    def broken(update: object, **kwargs: object) -> object:
        if update.tick.price == Decimal("666"):  # type: ignore[attr-defined]
            raise ValueError("cannot encode")
        return real(update, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(pipeline_module, "batch_message", broken)
    for i, price in enumerate(["100", "666", "101"]):
        assert pipeline.ingest(_tick(i, price=price)) is None  # applied, even if not sent
        await asyncio.sleep(0)  # each in its own turn of the loop: its own message
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await task
    seqs = [(await layer.receive(channel))["seq"] for _ in range(2)]
    assert seqs == [1, 3]  # the Hubs see the skipped seq and resynchronise
    assert pipeline.stats()["faults"] == {"publish": 1}


async def test_publish_failures_are_counted_as_dropped() -> None:
    sent: list[str] = []

    async def broker_down(group: str, message: dict) -> None:
        if len(sent) >= 3:
            raise ConnectionError("Redis went away")
        sent.append(group)

    engine = MarketEngine(SPECS, STANDARD_INTERVALS, [], max_delay_s=None)
    pipeline = Pipeline(engine, publisher=Publisher(broker_down))
    task = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    for i in range(10):
        pipeline.ingest(_tick(i))
        await asyncio.sleep(0)  # each in its own turn of the loop: its own message
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await task
    stats = pipeline.stats()
    assert stats["published"] == 3
    assert stats["publish_failed"] == 7 and stats["publish_dropped"] == 7


async def test_a_burst_goes_out_in_bounded_messages_with_every_trade_numbered() -> None:
    from tickstream.market.pipeline import MAX_BATCH_TRADES

    layer = InMemoryChannelLayer()
    channel = await layer.new_channel()
    await layer.group_add(market_group("AAPL"), channel)
    pipeline = _pipeline(layer)
    task = asyncio.create_task(pipeline.publisher.run())  # type: ignore[union-attr]
    n = 2 * MAX_BATCH_TRADES + 88
    for i in range(n):  # one burst, the loop never turns
        ts = T0 + i * 1_000_000
        pipeline.ingest(Tick("AAPL", Decimal(100 + i % 5), Decimal(1), ts, ts, "t", str(i)))
    await asyncio.sleep(0)
    await pipeline.publisher.stop()  # type: ignore[union-attr]
    await task
    messages = [await layer.receive(channel) for _ in range(3)]
    assert [len(m["trades"]) for m in messages] == [MAX_BATCH_TRADES, MAX_BATCH_TRADES, 88]
    assert [(m["first"], m["seq"]) for m in messages] == [
        (1, 256), (257, 512), (513, n)
    ]  # fmt: skip
    ids = [t["trade_id"] for m in messages for t in m["trades"]]
    assert ids == [str(i) for i in range(n)]


async def test_a_quiet_market_is_sent_at_once_and_a_saturated_loop_gathers_trades() -> None:
    import time

    from tickstream.market.pipeline import MAX_FLUSH_GAP_S

    layer = InMemoryChannelLayer(capacity=10_000)
    channel = await layer.new_channel()
    await layer.group_add(market_group("AAPL"), channel)
    pipeline = _pipeline(layer)
    assert pipeline.publisher is not None
    offer = pipeline.publisher.offer
    sent_at: list[float] = []
    dear = False

    def offering(group: str, message: dict[str, object]) -> None:
        sent_at.append(time.perf_counter())
        while dear and time.perf_counter() - sent_at[-1] < 0.001:
            pass  # a message that costs 1 ms of the loop's time: the loop saturates
        offer(group, message)

    pipeline.publisher.offer = offering  # type: ignore[method-assign]
    task = asyncio.create_task(pipeline.publisher.run())
    arrived: list[float] = []

    def tick(i: int) -> None:
        ts = T0 + i * 1_000_000
        arrived.append(time.perf_counter())
        pipeline.ingest(Tick("AAPL", Decimal(100 + i % 5), Decimal(1), ts, ts, "t", str(i)))

    for i in range(20):  # quiet: a trade every 2 ms, each in its own message at once
        tick(i)
        await asyncio.sleep(0)
        assert len(sent_at) == i + 1, "a quiet market's trade waited for its message"
        await asyncio.sleep(0.002)
    dear = True
    started = time.perf_counter()
    i = 20
    while time.perf_counter() - started < 0.5:  # the loop turns for every trade, for 0.5 s
        tick(i)
        i += 1
        await asyncio.sleep(0)
    pipeline.flush()
    await pipeline.publisher.stop()
    await task

    messages: list[dict] = []
    while sum(len(m["trades"]) for m in messages) < i:
        messages.append(await asyncio.wait_for(layer.receive(channel), 1))
    assert [len(m["trades"]) for m in messages[:20]] == [1] * 20
    # Every trade once, numbered one apart, in order.
    assert [t["trade_id"] for m in messages for t in m["trades"]] == [str(n) for n in range(i)]
    assert all(b["first"] == a["seq"] + 1 for a, b in zip(messages, messages[1:], strict=False))
    # The saturated loop was paced: the messages took well under the whole spell (each
    # costs 1 ms), so many trades went out together...
    busy = messages[20:]
    assert len(busy) * 0.001 < 0.5 * 0.6
    assert (i - 20) / len(busy) > 5
    assert pipeline.pace.share < 0.5
    # ...and no trade waited much past the longest gap for its message.
    first_of = {m["first"]: n for n, m in enumerate(messages)}
    waits, message = [], 0
    for seq in range(21, i + 1):
        message = first_of.get(seq, message)
        waits.append(sent_at[message] - arrived[seq - 1])
    assert max(waits) < MAX_FLUSH_GAP_S + 0.02


def test_the_flush_pace_cuts_the_share_of_a_saturated_loop_and_gives_it_back() -> None:
    from tickstream.market.pipeline import (
        FLUSH_BURST_S,
        MAX_FLUSH_GAP_S,
        MIN_FLUSH_SHARE,
        PACE_WINDOW_S,
        FlushPace,
    )

    clock = {"wall": 0.0, "cpu": 0.0}
    pace = FlushPace(lambda: clock["wall"], lambda: clock["cpu"])

    def run(seconds: float, busy: float, message_s: float) -> list[float]:
        """Messages of `message_s` each due every millisecond; the waits they got."""
        waits = []
        for _ in range(int(seconds * 1000)):
            clock["wall"] += 0.001
            wait = pace.wait(clock["wall"])
            waits.append(wait)
            pace.spend(clock["wall"] + wait, clock["wall"] + wait + message_s)
            clock["wall"] += wait + message_s
            clock["cpu"] += (0.001 + wait + message_s) * busy  # (the loop's other work)
        return waits

    # A loop with time to spare never waits, however dear its messages.
    assert set(run(1.0, 0.5, 0.0005)) == {0.0} and pace.share == 1.0
    # A saturated one: the share falls to the least, the waits stay bounded.
    waits = run(1.0, 1.0, 0.0005)
    assert pace.share == MIN_FLUSH_SHARE
    assert 0 < max(waits) <= MAX_FLUSH_GAP_S
    # Time to spare again: the share comes back within a few windows, and the budget.
    run(40 * PACE_WINDOW_S, 0.3, 0.0)
    assert pace.share == 1.0
    assert pace.wait(clock["wall"]) == 0.0 and pace._budget_at(clock["wall"]) == FLUSH_BURST_S
