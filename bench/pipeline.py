"""Pipeline throughput: ticks/s through state update, validation, publish and persistence.

    make bench-pipeline            (or: python bench/pipeline.py [--ticks N] [--repeat R])

100 symbols, ticks from the simulated market generated up front (generation is not
measured), the collector tuned as the server tunes it once started. Each figure is the
median of `--repeat` runs, the stages taken in turn so that a slower spell of a shared
machine falls on all of them. A Hub-like reader takes every broker message and checks the
trades come numbered one apart. The same run measures the baseline (one full message per
tick, as before batching) and prints the ratio, the added latency from a trade's arrival to
a Hub, and the profile's top entries for the pure state update. Persistence runs against
SQLite and, when reachable, PostgreSQL, each in a child process with its own fresh
database. Every stage that turns the loop runs on the loop the product runs the pipeline on
(`tickstream.eventloop`: uvloop where installed).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from decimal import Decimal
from io import StringIO
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickstream import eventloop  # noqa: E402
from tickstream.lifespan import tune_gc  # noqa: E402
from tickstream.market.core.analytics.indicators import parse_indicators  # noqa: E402
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS  # noqa: E402
from tickstream.market.core.engine import MarketEngine  # noqa: E402
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec  # noqa: E402
from tickstream.market.core.simulator import MarketSimulator  # noqa: E402
from tickstream.market.core.ticks import NS_PER_S, Tick  # noqa: E402

INDICATORS = "sma:20,ema:20,wma:20,rsi:14,macd:12:26:9,bbands:20:2,atr:14,vwap"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")


def redis_layer() -> Any:
    """A Redis channel layer (channels_redis) on a scratch database, or None."""
    try:
        import redis

        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=1).ping()
    except Exception:  # noqa: BLE001 - the report says it was skipped
        return None
    from channels_redis.core import RedisChannelLayer

    return RedisChannelLayer(
        hosts=[REDIS_URL], capacity=1_000_000, expiry=120, prefix=f"bench{uuid.uuid4().hex[:6]}"
    )


def symbols() -> list[InstrumentSpec]:
    specs = []
    for i in range(100):
        kind = InstrumentKind.CRYPTO if i % 3 == 0 else InstrumentKind.STOCK
        specs.append(
            InstrumentSpec(
                f"S{i:03d}",
                f"Symbol {i}",
                kind,
                tick_size=Decimal("0.01"),
                start_price=Decimal(20 + i * 7),
                volatility=0.3 + i / 200,
            )
        )
    return specs


def make_ticks(n: int, specs: list[InstrumentSpec]) -> list[Tick]:
    """n ticks at 2,000/s of market time (so 1s..1d candles open and close as in life)."""
    sim = MarketSimulator(specs, seed=1, rate=2000, start_ns=1_767_000_000 * NS_PER_S, speed=20)
    ticks = []
    while len(ticks) < n:
        t = sim.next_trade()
        if t is not None:
            ticks.append(Tick(t.symbol, t.price, t.size, t.ts, t.ts, "bench", t.trade_id))
    return ticks


def engine(specs: list[InstrumentSpec]) -> MarketEngine:
    return MarketEngine(specs, STANDARD_INTERVALS, parse_indicators(INDICATORS), max_delay_s=None)


def loop_name() -> str:
    factory = eventloop.loop_factory()
    return "asyncio's own" if factory is None else factory.__module__.split(".")[0]


def rate(fn: Callable[[], int], repeat: int) -> float:
    """Median ticks/s of `fn` (which returns how many ticks it processed)."""
    return rates([fn], repeat)[0]


def rates(fns: list[Callable[[], int]], repeat: int) -> list[float]:
    """Median ticks/s of each of `fns`, their runs taken in turn (one of each, `repeat`
    times): a machine that slows down for a while slows every stage alike, so the ratios
    between the stages hold even when the figures move."""
    results: list[list[float]] = [[] for _ in fns]
    for _ in range(repeat):
        for fn, out in zip(fns, results, strict=True):
            started = time.perf_counter()
            count = fn()
            out.append(count / (time.perf_counter() - started))
    RUNS[:] = results
    return [statistics.median(r) for r in results]


RUNS: list[list[float]] = []  # every run of the last `rates`, in the order taken


def bench_state(ticks: list[Tick], specs: list[InstrumentSpec]) -> int:
    e = engine(specs)
    for t in ticks:
        e.state(t.symbol)
    states = e.states
    for t in ticks:
        states[t.symbol].apply(t.ts_event, t.price, t.size)
    return len(ticks)


def bench_engine(ticks: list[Tick], specs: list[InstrumentSpec]) -> int:
    e = engine(specs)
    for t in ticks:
        e.process(t)
    return len(ticks)


def per_tick_pipeline() -> type:
    """The pipeline as it published before batching: one full message per tick (the
    quote, six forming candles and the trade as dictionaries of decimal strings)."""
    from tickstream.market.broker import market_group
    from tickstream.market.core.messages import tick_message
    from tickstream.market.pipeline import Pipeline

    class PerTick(Pipeline):
        def _publish(self, result: Any, tick: Tick, publish: bool) -> None:
            if not publish or self.publisher is None:
                return
            symbol = tick.symbol
            with_analysis, analysis_seq = self.analysis_due(symbol, tick.ts_recv)
            message = tick_message(
                result,
                epoch=self.epoch,
                with_analysis=with_analysis,
                analysis_seq=analysis_seq,
                places=self.places(symbol),
            )
            self.publisher.offer(market_group(symbol), message)

    return PerTick


def hollow_pipeline() -> type:
    """The batched pipeline with messages that hold only the symbol and the numbers of
    their trades: batching, the queue, the layer and the Hub's reading without building the
    trades, quote, candles and analysis (the difference to the full figure is theirs)."""
    from tickstream.market.broker import market_group
    from tickstream.market.pipeline import Pipeline, _Pending

    class Hollow(Pipeline):
        def _build_and_offer(self, batch: _Pending) -> None:
            assert self.publisher is not None
            symbol = batch.last.tick.symbol
            self.analysis_due(symbol, batch.last.tick.ts_recv)
            message = {"type": "market.tick", "symbol": symbol, "first": batch.first}
            message["seq"] = batch.last.seq
            self.publisher.offer(self._groups.get(symbol) or market_group(symbol), message)

    return Hollow


def tick_making(ticks: list[Tick]) -> int:
    """Making each tick anew as a feed does (the publish stages make theirs received now)."""
    now = time.time_ns
    for t in ticks:
        Tick(t.symbol, t.price, t.size, t.ts_event, now(), "bench", t.trade_id)
    return len(ticks)


MESSAGES: dict[tuple[int, bool, bool], int] = {}  # broker messages of the last run of a stage


def bench_publish(
    ticks: list[Tick],
    specs: list[InstrumentSpec],
    analysis_ms: int,
    *,
    per_tick: bool = False,
    turn_every: int = 1000,
    layer: Any = None,
    hollow: bool = False,
) -> int:
    """Validation, state and publishing through a channel layer to one member of every
    symbol group (a Hub), the event loop turning every `turn_every` ticks. `hollow`: the
    broker messages carry only their numbers (what the rest of publishing costs)."""
    from tickstream.market.broker import market_group
    from tickstream.market.pipeline import Pipeline, Publisher
    from tickstream.stream.layers import LocalChannelLayer

    async def main() -> int:
        target = layer or LocalChannelLayer(capacity=len(ticks) + 10)
        member = await target.new_channel()  # one subscriber (a Hub) for every symbol group
        for s in specs:
            await target.group_add(market_group(s.symbol), member)
        # As the runtime does: sends overlap through a remote broker, not in the process.
        publisher = Publisher(
            target.group_send, capacity=len(ticks) + 10, overlap=layer is not None
        )
        cls = per_tick_pipeline() if per_tick else hollow_pipeline() if hollow else Pipeline
        pipeline = cls(engine(specs), publisher=publisher, analysis_every_ms=analysis_ms)
        runner = asyncio.create_task(publisher.run())
        trades = 0
        last_seq: dict[str, int] = {}

        async def hub() -> None:
            # Takes every message as a Hub does and checks that the trades of each symbol
            # come numbered one apart: the queue stays short, as in a server.
            nonlocal trades
            while True:
                m = await target.receive(member)
                if m["type"] == "end":
                    return
                first = m.get("first", m["seq"])
                assert first == last_seq.get(m["symbol"], 0) + 1, "a trade went missing"
                last_seq[m["symbol"]] = m["seq"]
                trades += m["seq"] - first + 1

        reader = asyncio.create_task(hub()) if layer is None else None
        now = time.time_ns
        for i, t in enumerate(ticks):
            # Received now, as in a server: the analysis pacing (at most every 100 ms per
            # symbol) follows the receive time, the candles the trade's own time.
            pipeline.ingest(Tick(t.symbol, t.price, t.size, t.ts_event, now(), "bench", t.trade_id))
            if i % turn_every == 0:
                await asyncio.sleep(0)
        pipeline.flush()
        await publisher.stop()
        await runner
        assert publisher.sent == publisher.offered and publisher.dropped == 0
        MESSAGES[(turn_every, per_tick, hollow)] = publisher.sent
        if reader is not None:
            await target.send(member, {"type": "end"})
            await reader
            assert trades == len(ticks), f"{trades} of {len(ticks)} trades reached the Hub"
        else:
            await target.flush()
        return len(ticks)

    return eventloop.run(main())


def bench_latency(specs: list[InstrumentSpec], per_s: int = 1000, seconds: float = 5.0) -> dict:
    """Added latency from a trade's arrival (`ingest`) to a Hub's `receive` through the
    in-memory layer, trades paced at `per_s` over the symbols; p50/p99/max in ms."""
    from tickstream.market.broker import market_group
    from tickstream.market.pipeline import Pipeline, Publisher
    from tickstream.stream.layers import LocalChannelLayer

    async def main() -> dict:
        layer = LocalChannelLayer(capacity=100_000)
        member = await layer.new_channel()
        for s in specs:
            await layer.group_add(market_group(s.symbol), member)
        publisher = Publisher(layer.group_send)
        pipeline = Pipeline(engine(specs), publisher=publisher)
        runner = asyncio.create_task(publisher.run())
        sim = MarketSimulator(specs, seed=2, rate=per_s, start_ns=time.time_ns(), speed=20)
        arrived: dict[tuple[str, str], float] = {}
        latencies: list[float] = []
        total = int(per_s * seconds)

        async def hub() -> None:
            while len(latencies) < total:
                m = await layer.receive(member)
                now = time.perf_counter()
                for t in m["trades"]:
                    latencies.append(now - arrived.pop((m["symbol"], t["trade_id"])))

        reader = asyncio.create_task(hub())
        started = time.perf_counter()
        for i in range(total):
            due = started + i / per_s
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            trade = sim.next_trade()
            while trade is None:
                trade = sim.next_trade()
            now_ns = time.time_ns()
            tick = Tick(trade.symbol, trade.price, trade.size, now_ns, now_ns, "bench",
                        f"l{i}")  # fmt: skip
            arrived[(tick.symbol, f"l{i}")] = time.perf_counter()
            pipeline.ingest(tick)
        await asyncio.wait_for(reader, 10)
        await publisher.stop()
        await runner
        ms = sorted(x * 1000 for x in latencies)
        return {
            "p50": ms[len(ms) // 2],
            "p99": ms[int(len(ms) * 0.99)],
            "max": ms[-1],
            "n": len(ms),
        }

    return eventloop.run(main())


def bench_persist(
    ticks: list[Tick], specs: list[InstrumentSpec], *, store_ticks: bool = True
) -> dict[str, float]:
    """Runs in a child process with Django set up on a fresh database."""
    from tickstream.market.models import Candle, Instrument
    from tickstream.market.pipeline import Pipeline
    from tickstream.market.upserts import BatchStore
    from tickstream.market.writer import BatchWriter

    if not Instrument.objects.exists():
        Instrument.objects.bulk_create(
            [Instrument(symbol=s.symbol, name=s.name, kind=s.kind.value) for s in specs]
        )
    Candle.objects.all().delete()
    store = BatchStore()

    async def main() -> tuple[float, float, int]:
        writer = BatchWriter(store, close=store.close, flush_ms=200, store_ticks=store_ticks)
        pipeline = Pipeline(engine(specs), writer=writer)
        flusher = asyncio.create_task(writer.run())
        started = time.perf_counter()
        for i, t in enumerate(ticks):
            pipeline.ingest(t)
            if i % 500 == 0:
                await asyncio.sleep(0)  # the writer's thread gets its turns as in a server
        ingested = time.perf_counter() - started
        await writer.stop()
        flusher.cancel()
        total = time.perf_counter() - started
        assert writer.stats.dropped_ticks == 0 and writer.stats.failures == 0
        return ingested, total, writer.stats.flushes

    ingested, total, flushes = eventloop.run(main())
    candles = Candle.objects.count()
    assert candles > 0, "no candle was stored"
    if store_ticks:
        from tickstream.market.models import Trade

        stored = Trade.objects.count()
        assert stored == len(ticks), f"{stored} of {len(ticks)} ticks stored"
    return {
        "ingest_per_s": len(ticks) / ingested,
        "with_flush_per_s": len(ticks) / total,
        "flushes": flushes,
        "candles": candles,
    }


def orm_save(rows: list[Any]) -> None:
    """The writer's rows through the ORM's `bulk_create` (its upserts), as it wrote them
    before `executemany`: the persistence baseline."""
    from tickstream.market import upserts

    by_model: dict[type, list[Any]] = {}
    for model, values in rows:
        fields = dict(zip(upserts._COLUMNS[model], values, strict=True))
        by_model.setdefault(model, []).append(model(**fields))
    for model, upsert in upserts._UPSERTS.items():
        objs = by_model.get(model)
        if not objs:
            continue
        if upsert is None:
            model.objects.bulk_create(objs, batch_size=1000)
        else:
            unique, update = upsert
            model.objects.bulk_create(
                objs, batch_size=500, update_conflicts=True, unique_fields=unique,
                update_fields=update,
            )  # fmt: skip


def child(db: str, n: int) -> None:
    os.environ["TICKSTREAM_DEVELOPMENT"] = "true"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tickstream.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    specs = symbols()
    ticks = make_ticks(n, specs)
    out = {
        "without_ticks": bench_persist(ticks, specs, store_ticks=False),
        "with_ticks": bench_persist(ticks, specs),
    }
    from tickstream.market import upserts
    from tickstream.market.models import Trade

    Trade.objects.all().delete()
    upserts._save = orm_save  # the baseline: the same rows through the ORM's bulk_create
    out["orm_with_ticks"] = bench_persist(ticks, specs)
    print(json.dumps(out))


def run_child(label: str, env: dict[str, str], n: int) -> dict[str, float] | str:
    full = {**os.environ, **env}
    result = subprocess.run(
        [sys.executable, __file__, "--child", label, "--ticks", str(n)],
        env=full,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    if result.returncode != 0:
        return f"failed: {result.stderr.strip().splitlines()[-1:]}"
    return json.loads(result.stdout.strip().splitlines()[-1])


def persistence(n: int) -> dict[str, dict[str, float] | str]:
    out: dict[str, dict[str, float] | str] = {}
    with tempfile.TemporaryDirectory() as tmp:
        out["sqlite"] = run_child("sqlite", {"TICKSTREAM_VAR_DIR": tmp}, n)
    try:
        import psycopg

        name = f"tickstream_bench_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(POSTGRES_URL, autocommit=True, connect_timeout=2) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        try:
            url = POSTGRES_URL.rsplit("/", 1)[0] + "/" + name
            out["postgresql"] = run_child("postgresql", {"DATABASE_URL": url}, n)
        finally:
            with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    except Exception as exc:  # noqa: BLE001 - the report says why it was skipped
        out["postgresql"] = f"skipped: {exc}"
    return out


def profile(ticks: list[Tick], specs: list[InstrumentSpec], top: int = 12) -> str:
    profiler = cProfile.Profile()
    profiler.runcall(bench_engine, ticks, specs)
    text = StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(top)
    lines = [ln for ln in text.getvalue().splitlines() if ln.strip()]
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("ncalls"))
    return "\n".join(lines[start : start + top + 1])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ticks", type=int, default=200_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--child")
    options = parser.parse_args()
    if options.child:
        child(options.child, options.ticks)
        return
    specs = symbols()
    ticks = make_ticks(options.ticks, specs)
    # The collector as the server tunes it once started (the ticks made up front are
    # frozen with the rest of the start-up heap, as a server's modules are).
    tune_gc()
    n, r = len(ticks), options.repeat
    print(
        f"tickstream pipeline benchmark: {n:,} ticks over {len(specs)} symbols, "
        f"{len(STANDARD_INTERVALS)} intervals, indicators {INDICATORS}; median of {r} runs; "
        f"event loop: {loop_name()} (the web process's and runfeeds')\n"
    )
    stages: list[tuple[str, Callable[[], int]]] = [
        (
            "state update (quote + 6 candle builders + indicators on close)",
            lambda: bench_state(ticks, specs),
        ),
        ("+ validation (engine.process)", lambda: bench_engine(ticks, specs)),
        (
            "+ publish: batched per symbol, loop turning every 1,000 ticks",
            lambda: bench_publish(ticks, specs, 100),
        ),
        (
            "  the same, messages holding only their numbers",
            lambda: bench_publish(ticks, specs, 100, hollow=True),
        ),
        (
            "  making each Tick anew, as a feed does (in every publish row)",
            lambda: tick_making(ticks),
        ),
        (
            "  the same, the loop turning every 100 ticks",
            lambda: bench_publish(ticks, specs, 100, turn_every=100),
        ),
        (
            "  the same, a turn of the loop for every tick",
            lambda: bench_publish(ticks[: n // 4], specs, 100, turn_every=1),
        ),
        (
            "  baseline: one full message per tick (before batching)",
            lambda: bench_publish(ticks, specs, 100, per_tick=True),
        ),
    ]
    rows = list(
        zip([label for label, _ in stages], rates([fn for _, fn in stages], r), strict=True)
    )
    runs = {label: list(each) for (label, _), each in zip(stages, RUNS, strict=True)}
    keys = [(1000, False, False), (1000, False, True), None, (100, False, False),
            (1, False, False), (1000, True, False)]  # fmt: skip
    sizes = [n, n, n, n, n // 4, n]
    per_message = {
        label: f"{size / MESSAGES[key]:>6.1f} trades/message" if key in MESSAGES else ""
        for (label, _), key, size in zip(stages[2:], keys, sizes, strict=True)
    }
    for label, value in rows:
        print(
            f"  {label:<64} {value:>10,.0f} ticks/s {1e6 / value:>7.1f} us/tick "
            f"{per_message.get(label, '')}"
        )
    us = {label: 1e6 / value for label, value in rows}
    state, checked, batched, hollow, making = (us[label] for label, _ in stages[:5])
    print(
        f"\n  where a batched tick's {batched:.1f} us go: state {state:.1f}, validation "
        f"{checked - state:.1f}, making the Tick {making:.1f}, batching + queue + layer + Hub "
        f"reading {hollow - checked - making:.1f}, building the messages' content "
        f"{batched - hollow:.1f} (the full messages carry {per_message[stages[2][0]].strip()}, "
        f"the numbers-only ones {per_message[stages[3][0]].strip()}: the flushes are paced by "
        "what building costs)"
    )
    print(f"  batched vs one message per tick: {rows[2][1] / rows[-1][1]:.2f}x the baseline")
    print(
        f"  the batched pipeline at {rows[2][1] / rows[0][1]:.3f}x the pure state update of "
        "the same run (where this machine runs slower, both figures fall; the ratio compares "
        "runs of one release, and falls when the state update itself gets faster)"
    )
    redis = redis_layer()
    if redis is None:
        print("  Redis: skipped (not reachable at BENCH_REDIS_URL)")
    else:
        few = ticks[: n // 8]
        batched = rate(lambda: bench_publish(few, specs, 100, layer=redis_layer()), 1)
        old = rate(lambda: bench_publish(few, specs, 100, per_tick=True, layer=redis_layer()), 1)
        print(
            f"  + publish through Redis (channels_redis), {len(few):,} ticks: batched "
            f"{batched:,.0f} ticks/s, one message per tick {old:,.0f} ticks/s"
        )
    print()
    lat = {}
    for per_s, seconds in ((1000, 5.0), (10_000, 3.0), (20_000, 2.0)):
        lat[per_s] = bench_latency(specs, per_s, seconds)
        r = lat[per_s]
        print(
            f"  added latency, trade arrival -> Hub, {per_s:,} ticks/s for {seconds:.0f} s "
            f"({r['n']:,} trades): p50 {r['p50']:.2f} ms, p99 {r['p99']:.2f} ms, "
            f"max {r['max']:.2f} ms"
        )
    print("\n  every run (ticks/s, in the order taken):")
    for label, _ in stages:
        print(f"  {label.strip()[:48]:<48} " + " ".join(f"{v:>9,.0f}" for v in runs[label]))
    slowest = min(rows[2][1], rows[5][1], rows[6][1])
    print(
        f"\n  target >= 50,000 ticks/s at every turn granularity (every 1,000, 100, 1 ticks): "
        f"{rows[2][1]:,.0f} / {rows[5][1]:,.0f} / {rows[6][1]:,.0f}: "
        f"{'met' if slowest >= 50_000 else 'NOT met'}"
    )
    p99 = lat[1000]["p99"]
    print(
        f"  target trade -> Hub p99 <= 10 ms at 1,000 ticks/s: {p99:.2f} ms: "
        f"{'met' if p99 <= 10 else 'NOT met'}"
    )
    print(
        "\npersistence (validation + state + batched writer storing candles and quotes, then "
        "also every tick; one run each, fresh database; the rate includes the last flush):"
    )
    for db, result in persistence(min(n, 100_000)).items():
        if isinstance(result, str):
            print(f"  {db:<12} {result}")
            continue
        for label, r in (("candles+quotes", result["without_ticks"]),
                         ("+ every tick", result["with_ticks"]),
                         ("  baseline ORM", result["orm_with_ticks"])):  # fmt: skip
            print(
                f"  {db:<12} {label:<15} {r['with_flush_per_s']:>9,.0f} ticks/s "
                f"(ingest alone {r['ingest_per_s']:,.0f}; {r['flushes']:.0f} flushes, "
                f"{r['candles']:,.0f} candles)"
            )
    print("\nprofile of validation + state update (top entries by own time):")
    print(profile(ticks[: n // 2], specs))


if __name__ == "__main__":
    main()
