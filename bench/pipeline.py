"""Pipeline throughput: ticks/s through state update, validation, publish and persistence.

    make bench-pipeline            (or: python bench/pipeline.py [--ticks N] [--repeat R])

100 symbols, ticks from the simulated market generated up front (generation is not
measured). Each figure is the median of `--repeat` runs. The same run measures a baseline
(indicator values recomputed on every tick instead of at most every 100 ms per symbol) and
prints the ratio, plus the profile's top entries for the pure state update. Persistence runs
against SQLite and, when reachable, PostgreSQL, each in a child process with its own fresh
database.
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

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tickstream.market.core.analytics.indicators import parse_indicators  # noqa: E402
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS  # noqa: E402
from tickstream.market.core.engine import MarketEngine  # noqa: E402
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec  # noqa: E402
from tickstream.market.core.simulator import MarketSimulator  # noqa: E402
from tickstream.market.core.ticks import NS_PER_S, Tick  # noqa: E402

INDICATORS = "sma:20,ema:20,wma:20,rsi:14,macd:12:26:9,bbands:20:2,atr:14,vwap"
POSTGRES_URL = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")


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


def rate(fn: Callable[[], int], repeat: int) -> float:
    """Median ticks/s of `fn` (which returns how many ticks it processed)."""
    results = []
    for _ in range(repeat):
        started = time.perf_counter()
        count = fn()
        results.append(count / (time.perf_counter() - started))
    return statistics.median(results)


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


def bench_publish(ticks: list[Tick], specs: list[InstrumentSpec], analysis_ms: int) -> int:
    from tickstream.market.broker import market_group
    from tickstream.market.pipeline import Pipeline, Publisher
    from tickstream.stream.layers import LocalChannelLayer

    async def main() -> int:
        layer = LocalChannelLayer(capacity=len(ticks) + 10)
        member = await layer.new_channel()  # one subscriber (a Hub) for every symbol group
        for s in specs:
            await layer.group_add(market_group(s.symbol), member)
        publisher = Publisher(layer.group_send, capacity=len(ticks) + 10)
        pipeline = Pipeline(engine(specs), publisher=publisher, analysis_every_ms=analysis_ms)
        runner = asyncio.create_task(publisher.run())
        for i, t in enumerate(ticks):
            # The pipeline's analysis pacing follows ts_recv; play them at the market's clock.
            pipeline.ingest(t)
            if i % 1000 == 0:
                await asyncio.sleep(0)
        await publisher.stop()
        await runner
        assert publisher.sent == len(ticks) and publisher.dropped == 0
        return len(ticks)

    return asyncio.run(main())


def bench_persist(ticks: list[Tick], specs: list[InstrumentSpec]) -> dict[str, float]:
    """Runs in a child process with Django set up on a fresh database."""
    from tickstream.market.models import Candle, Instrument
    from tickstream.market.pipeline import Pipeline
    from tickstream.market.upserts import BatchStore
    from tickstream.market.writer import BatchWriter

    Instrument.objects.bulk_create(
        [Instrument(symbol=s.symbol, name=s.name, kind=s.kind.value) for s in specs]
    )
    store = BatchStore()

    async def main() -> tuple[float, float, int]:
        writer = BatchWriter(store, close=store.close, flush_ms=200, store_ticks=True)
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

    ingested, total, flushes = asyncio.run(main())
    candles = Candle.objects.count()
    return {
        "ingest_per_s": len(ticks) / ingested,
        "with_flush_per_s": len(ticks) / total,
        "flushes": flushes,
        "candles": candles,
    }


def child(db: str, n: int) -> None:
    os.environ["TICKSTREAM_DEVELOPMENT"] = "true"
    os.environ["DJANGO_SETTINGS_MODULE"] = "tickstream.settings"
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)
    specs = symbols()
    print(json.dumps(bench_persist(make_ticks(n, specs), specs)))


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
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--child")
    options = parser.parse_args()
    if options.child:
        child(options.child, options.ticks)
        return
    specs = symbols()
    ticks = make_ticks(options.ticks, specs)
    n, r = len(ticks), options.repeat
    print(
        f"tickstream pipeline benchmark: {n:,} ticks over {len(specs)} symbols, "
        f"{len(STANDARD_INTERVALS)} intervals, indicators {INDICATORS}; median of {r} runs\n"
    )
    rows = [
        (
            "state update (quote + 6 candle builders + indicators on close)",
            rate(lambda: bench_state(ticks, specs), r),
        ),
        ("+ validation (engine.process)", rate(lambda: bench_engine(ticks, specs), r)),
        (
            "+ publish, in-memory layer, analysis <= every 100 ms/symbol",
            rate(lambda: bench_publish(ticks, specs, 100), r),
        ),
        (
            "  baseline: analysis recomputed on every tick",
            rate(lambda: bench_publish(ticks, specs, 0), r),
        ),
    ]
    for label, value in rows:
        print(f"  {label:<64} {value:>10,.0f} ticks/s")
    print(f"\n  pacing analysis vs every tick: {rows[2][1] / rows[3][1]:.2f}x the baseline")
    print(
        "\npersistence (validation + state + batched writer storing candles, quotes and every "
        "tick; one run each, fresh database):"
    )
    for db, result in persistence(min(n, 100_000)).items():
        if isinstance(result, str):
            print(f"  {db:<12} {result}")
        else:
            print(
                f"  {db:<12} ingest {result['ingest_per_s']:>9,.0f} ticks/s, including the "
                f"final flush {result['with_flush_per_s']:>9,.0f} ticks/s "
                f"({result['flushes']:.0f} flushes, {result['candles']:,.0f} candles)"
            )
    print("\nprofile of validation + state update (top entries by own time):")
    print(profile(ticks[: n // 2], specs))


if __name__ == "__main__":
    main()
