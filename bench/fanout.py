"""Fan-out benchmark: tickstream's Hub against the tutorials' pattern and a plain
`websockets` broadcast, on the same scenario, each server in its own process with the
load generator (bench/loadgen.py) in another.

    make bench-fanout        (or: python bench/fanout.py [--quick])

Scenarios: N clients each following the trades of K of S symbols, the feed at R trades/s.
Prints delivered updates/s and frames/s, latency from the trade's event time to receipt
(p50, p99, max), gaps, server CPU and RSS (per connection), connection setup rate, and
tickstream's ratio to each reference.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
TICKS = os.sysconf("SC_CLK_TCK")


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def wait_port(port: int, timeout: float = 60) -> None:
    import socket

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"server on {port} did not start")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def uvicorn_args(app: str, port: int, *extra: str) -> list[str]:
    """A reference app on uvicorn, with tickstream's server settings."""
    return [
        PY,
        "-m",
        "uvicorn",
        app,
        "--port",
        str(port),
        "--log-level",
        "warning",
        "--backlog",
        "4096",
        "--ws-per-message-deflate",
        "false",
        *extra,
    ]


def server_env(var: str, **settings: str) -> dict[str, str]:
    """The environment of every server the benchmark starts."""
    return {
        **os.environ,
        "TICKSTREAM_DEVELOPMENT": "true",
        "TICKSTREAM_VAR_DIR": var,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SIM_BACKFILL_S": "0",  # the live market only, as in every scenario
        **settings,
    }


def market_settings(symbols: int, rate: float) -> dict[str, str]:
    """tickstream's simulated market of the scenario."""
    return {
        "SIM_RATE": str(rate),
        "SIM_SEED": "7",
        "FEEDS": "simulated",
        "SIM_SYMBOLS": ",".join(f"B{i:03d}" for i in range(symbols)),
    }


def prepare_database(env: dict[str, str], symbols: int) -> None:
    """Migrate tickstream's database and add the scenario's instruments."""
    setup = (
        "import django; django.setup(); from django.core.management import call_command;"
        "call_command('migrate', verbosity=0);"
        "from bench.common import bench_symbols;"
        "from tickstream.market.models import Instrument;"
        f"Instrument.objects.bulk_create([Instrument.from_spec(s) for s in "
        f"bench_symbols({symbols})], ignore_conflicts=True)"
    )
    subprocess.run(
        [PY, "-c", setup],
        env={**env, "DJANGO_SETTINGS_MODULE": "tickstream.settings"},
        check=True,
        cwd=ROOT,
    )


def start_server(
    kind: str,
    port: int,
    symbols: int,
    rate: float,
    var: str,
    log: Path,
    settings: dict[str, str] | None = None,
) -> subprocess.Popen[bytes]:
    env = server_env(var, TICKSTREAM_GC_LOG=str(Path(var) / "gc.log"))  # full collections
    env.update(settings or {})
    if kind == "tickstream":
        prepare_database(env, symbols)
        env.update(market_settings(symbols, rate))
        args = [PY, "-m", "tickstream", "run", "--port", str(port), "--log-level", "warning"]
    elif kind == "naive":
        env.update({"BENCH_RATE": str(rate), "BENCH_SYMBOLS": str(symbols)})
        args = uvicorn_args("bench.naive_app:application", port, "--lifespan", "on")
    elif kind == "bare":
        args = uvicorn_args("bench.bare_app:app", port, "--ws", "websockets-sansio")
    else:
        flush_ms = (settings or {}).get("STREAM_FLUSH_MS", "0")  # 0: a frame per update
        args = [PY, str(ROOT / "bench" / "plain_server.py"), str(port), str(symbols), str(rate)]
        args.append(flush_ms)
    out = log.open("wb")
    proc = subprocess.Popen(
        args, env=env, cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, preexec_fn=raise_fd_limit
    )  # noqa: PLW1509
    wait_port(port)
    return proc


def run(
    kind: str,
    clients: int,
    follow: int,
    symbols: int,
    rate: float,
    seconds: float,
    idle: bool = False,
    settings: dict[str, str] | None = None,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        log = Path(var) / "server.log"
        gc_log = Path(var) / "gc.log"
        try:
            server = start_server(kind, port, symbols, rate, var, log, settings)
        except RuntimeError as exc:
            return {"error": [str(exc), *log.read_text().strip().splitlines()[-2:]]}
        try:
            time.sleep(2)
            base_rss = rss_kb(server.pid)
            since = time.monotonic()
            path = {"tickstream": "/ws/v1/", "naive": "/ws/", "plain": "/", "bare": "/"}[kind]
            extra = ["--kind", kind, "--follow", str(follow), "--symbols", str(symbols)]
            result = drive(
                server.pid, f"ws://127.0.0.1:{port}{path}", extra, clients, seconds, idle
            )
            if "error" in result:
                return result
            rss = result.get("rss_kb_connected") or rss_kb(server.pid)
            result["rss_kb_per_conn_after_close"] = round(
                (rss_kb(server.pid) - base_rss) / clients, 1
            )
            result["full_gcs"], result["full_gc_max_ms"] = full_collections(
                gc_log, result["window"]
            )
            result["rss_window_s"] = round(result.pop("rss_at", time.monotonic()) - since, 1)
            result["server_rss_mb"] = round(rss / 1024, 1)
            result["rss_kb_per_conn"] = round((rss - base_rss) / clients, 1)
            result["offered_per_s"] = round(rate * follow / symbols * clients)
            return result
        finally:
            stop(server)


def market_growth_kb(symbols: int, rate: float, seconds: float) -> float:
    """What tickstream's memory grows by with no client at all over `seconds` (the market's
    own state filling: duplicate windows, indicator windows, caches): the control that
    scenario C's figure per connection is read against."""
    with tempfile.TemporaryDirectory() as var:
        server = start_server("tickstream", free_port(), symbols, rate, var, Path(var) / "log")
        try:
            time.sleep(2)
            base_rss = rss_kb(server.pid)
            time.sleep(seconds)
            return float(rss_kb(server.pid) - base_rss)
        finally:
            stop(server)


def stop(server: subprocess.Popen[bytes]) -> None:
    """End a server process: politely, then for good."""
    server.terminate()
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        server.kill()


def drive(
    pid: int | list[int],
    url: str | list[str],
    extra: list[str],
    clients: int,
    seconds: float,
    idle: bool = False,
) -> dict[str, Any]:
    """Run the load generator against a server (`extra`: its scenario arguments); its
    figures plus the server's CPU over the measured window (with several processes,
    `server_cpu_pct` is the first's and `cpu_pct` lists each one's)."""
    pids = pid if isinstance(pid, list) else [pid]
    urls = url if isinstance(url, list) else [url]
    samples: list[tuple[float, list[float]]] = []
    rss: list[tuple[float, int]] = []  # the first server's
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), [cpu_seconds(p) for p in pids]))
            rss.append((samples[-1][0], rss_kb(pids[0])))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    command = [
        PY,
        str(ROOT / "bench" / "loadgen.py"),
        *[arg for u in urls for arg in ("--url", u)],
        "--clients",
        str(clients),
        "--seconds",
        str(seconds),
        *extra,
    ] + (["--idle"] if idle else [])
    limit = 300 + clients // 5
    try:
        gen = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=limit,
            check=False,
            preexec_fn=raise_fd_limit,
            cwd=ROOT,
        )
    except subprocess.TimeoutExpired:
        return {
            "error": [
                f"the load generator did not finish within {limit} s "
                "(connection setup under load is the usual cause)"
            ]
        }
    finally:
        end = time.monotonic()
        done.set()
        sampler.join()
    if gen.returncode != 0:
        return {"error": (gen.stderr or gen.stdout).strip().splitlines()[-1:]}
    result: dict[str, Any] = json.loads(gen.stdout.strip().splitlines()[-1])
    window = [s for s in samples if s[0] >= end - seconds - 1.5]
    if len(window) >= 2:
        span = window[-1][0] - window[0][0]
        cpu = [
            round(100 * (b - a) / span) for a, b in zip(window[0][1], window[-1][1], strict=True)
        ]
        result["server_cpu_pct"] = cpu[0]
        result["cpu_pct"] = cpu
    result["window"] = [end - seconds, end]
    start, stop_at = result.pop("measured")
    connected = [kb for at, kb in rss if start <= at <= stop_at]
    if connected:  # while every client is connected (not after they all left at once)
        result["rss_kb_connected"] = statistics.median(connected)
        result["rss_at"] = (start + stop_at) / 2
    return result


def full_collections(path: Path, window: list[float]) -> tuple[int, float]:
    """The full collections a server recorded (`TICKSTREAM_GC_LOG`) within the measured
    window: how many, and the longest in ms."""
    if not path.exists():
        return 0, 0.0
    pauses = [
        float(ms)
        for at, ms in (line.split() for line in path.read_text().splitlines() if line.strip())
        if window[0] <= float(at) <= window[1]
    ]
    return len(pauses), max(pauses, default=0.0)


def run_split(
    webs: int, clients: int, follow: int, symbols: int, rate: float, seconds: float
) -> dict[str, Any]:
    """The split layout on the machine's Redis and PostgreSQL: one feed process, `webs`
    web processes, the clients spread over them in turn. Adds each process's CPU (webs,
    then the feed, then Redis), Redis's PUBLISH calls per second and how many subscribers
    each symbol's channel has (one per web process following it, never one per client)."""
    import uuid

    import psycopg
    import redis

    pg_url = os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    redis_url = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
    name, prefix = f"tickstream_bench_{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:6]}"
    try:
        with psycopg.connect(pg_url, autocommit=True, connect_timeout=3) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        broker = redis.Redis.from_url(redis_url, socket_timeout=5)
        redis_pid = int(broker.info("server")["process_id"])
    except Exception as exc:
        return {"error": [f"needs PostgreSQL and Redis ({type(exc).__name__}: {exc})"]}
    procs: list[subprocess.Popen[bytes]] = []
    with tempfile.TemporaryDirectory() as var:
        env = server_env(
            var,
            DATABASE_URL=pg_url.rsplit("/", 1)[0] + "/" + name,
            REDIS_URL=redis_url,
            CHANNEL_PREFIX=prefix,
            FEEDS_MODE="external",
            **market_settings(symbols, rate),
        )
        try:
            prepare_database(env, symbols)
            with (Path(var) / "feed.log").open("wb") as out:
                procs.append(
                    subprocess.Popen(
                        [PY, "manage.py", "runfeeds"],
                        env=env,
                        cwd=ROOT,
                        stdout=out,
                        stderr=subprocess.STDOUT,
                    )  # fmt: skip
                )
            ports = [free_port() for _ in range(webs)]
            for port in ports:
                args = [PY, "-m", "tickstream", "run", "--no-prepare", "--port", str(port)]
                with (Path(var) / f"web{port}.log").open("wb") as out:
                    procs.insert(
                        -1,
                        subprocess.Popen(
                            [*args, "--log-level", "warning"],
                            env=env,
                            cwd=ROOT,
                            stdout=out,
                            stderr=subprocess.STDOUT,
                            preexec_fn=raise_fd_limit,
                        ),  # fmt: skip
                    )
            for port in ports:
                wait_port(port)
            time.sleep(3)
            urls = [f"ws://127.0.0.1:{p}/ws/v1/" for p in ports]
            extra = ["--kind", "tickstream", "--follow", str(follow), "--symbols", str(symbols)]

            def publishes() -> int:
                stats = broker.info("commandstats").get("cmdstat_publish", {})
                return int(stats.get("calls", 0)) if isinstance(stats, dict) else 0

            def database() -> tuple[int, int]:
                with psycopg.connect(pg_url, autocommit=True) as conn:
                    row = conn.execute(
                        "SELECT xact_commit, tup_inserted + tup_updated + tup_deleted "
                        "FROM pg_stat_database WHERE datname = %s",
                        [name],
                    ).fetchone()
                return (int(row[0]), int(row[1])) if row else (0, 0)

            subscribers: list[int] = []
            sampling = threading.Event()

            def sample_subscribers() -> None:  # while the clients are connected
                while not sampling.wait(1.0):
                    channels = broker.pubsub_channels(f"{prefix}__group__md.*")
                    if channels:
                        subscribers.append(max(n for _, n in broker.pubsub_numsub(*channels)))

            sampler = threading.Thread(target=sample_subscribers, daemon=True)
            sampler.start()
            before, started, db_before = publishes(), time.monotonic(), database()
            try:
                result = drive([p.pid for p in procs] + [redis_pid], urls, extra, clients, seconds)
            finally:
                sampling.set()
                sampler.join()
            db_after, took = database(), time.monotonic() - started
            result["pg_commits_per_s"] = round((db_after[0] - db_before[0]) / took)
            result["pg_rows_per_s"] = round((db_after[1] - db_before[1]) / took)
            result["redis_publish_per_s"] = round(
                (publishes() - before) / (time.monotonic() - started)
            )
            result["subscribers_per_symbol"] = max(subscribers, default=0)
            result["offered_per_s"] = round(rate * follow / symbols * clients)
            return result
        except (subprocess.CalledProcessError, RuntimeError) as exc:
            return {"error": [str(exc)]}
        finally:
            for proc in procs:
                stop(proc)
            with psycopg.connect(pg_url, autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def split_scenario(clients: int, seconds: float) -> None:
    print(
        f"\nscenario D: the split layout on Redis and PostgreSQL, N={clients}, K=10, S=100, "
        f"R=1,000 (offered {clients * 100:,} updates/s); one feed process"
    )
    print(
        f"  {'web processes':<14} {'upd/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'gaps':>5} "
        f"{'CPU% webs':>12} {'feed':>5} {'redis':>6} {'PUBLISH/s':>10} {'subs/sym':>8} "
        f"{'PG tx/s':>8} {'PG rows/s':>9} {'gen%':>5}"
    )
    results = {}
    for webs in (1, 2):
        r = results[webs] = run_split(webs, clients, 10, 100, 1000, seconds)
        if "error" in r:
            print(f"  {webs:<14} failed: {r['error']}")
            continue
        cpu = r.get("cpu_pct", [])
        print(
            f"  {webs:<14} {r.get('updates_per_s', 0):>9,} {r.get('latency_ms_p50')!s:>7} "
            f"{r.get('latency_ms_p99')!s:>7} {r.get('seq_gaps', 0):>5} "
            f"{'/'.join(str(c) for c in cpu[:webs]):>12} {cpu[webs] if cpu else '':>5} "
            f"{cpu[webs + 1] if cpu else '':>6} {r['redis_publish_per_s']:>10,} "
            f"{r['subscribers_per_symbol']:>8} {r['pg_commits_per_s']:>8,} "
            f"{r['pg_rows_per_s']:>9,} {r.get('loadgen_cpu_pct')!s:>5}",
            flush=True,
        )
    one, two = results[1].get("updates_per_s"), results[2].get("updates_per_s")
    if one and two:
        print(
            f"  two web processes deliver {two / one:.2f}x one; Redis carries each trade "
            f"once per web process that follows its symbol (subs/sym), not once per client"
        )


def row(label: str, r: dict[str, Any]) -> str:
    if "error" in r:
        return f"  {label:<34} failed: {r['error']}"
    return (
        f"  {label:<34} {r.get('updates_per_s', 0):>9,} {r.get('frames_per_s', 0):>8,} "
        f"{str(r.get('latency_ms_p50')):>7} {str(r.get('latency_ms_p99')):>7} "
        f"{str(r.get('latency_ms_max')):>8} {r.get('seq_gaps', 0):>5} "
        f"{r.get('gap_notices', 0):>5} {str(r.get('server_cpu_pct')):>5} "
        f"{r.get('server_rss_mb')!s:>7} {r.get('rss_kb_per_conn')!s:>7} "
        f"{r.get('setup_per_s', 0):>7,} {r.get('loadgen_cpu_pct')!s:>6}"
    )


HEADER = (
    f"  {'server':<34} {'upd/s':>9} {'frames/s':>8} {'p50 ms':>7} {'p99 ms':>7} "
    f"{'max ms':>8} {'gaps':>5} {'notes':>5} {'cpu%':>5} {'RSS MB':>7} {'KB/conn':>7} "
    f"{'conn/s':>7} {'gen%':>6}"
)


# Tick to screen at a 20 ms flush: the targets of scenario E.
FAST_FLUSH_MS = 20
FAST_TARGETS = {"p99": 30.0, "max": 60.0, "cpu": 48}


def fast_flush_scenario(clients: int, seconds: float) -> None:
    """Scenario E: N clients following K=10 of S=100 symbols at R=1,000 trades/s with the
    Hub flushing every 20 ms, beside plain websockets in the same run, each over the same
    window: batched at the same interval (the least a server flushing every 20 ms does)
    and a frame per update (the machine's limit without batching)."""
    print(
        f"\nscenario E: tick to screen at STREAM_FLUSH_MS={FAST_FLUSH_MS}, N={clients}, K=10, "
        f"S=100, R=1,000 (offered {clients * 100:,} updates/s), {seconds:.0f} s window; "
        f"targets: every update, no silent gap, p99 <= {FAST_TARGETS['p99']:.0f} ms, max <= "
        f"{FAST_TARGETS['max']:.0f} ms, server CPU <= {FAST_TARGETS['cpu']} %"
    )
    print(HEADER)
    flush = {"STREAM_FLUSH_MS": str(FAST_FLUSH_MS)}
    fast = run("tickstream", clients, 10, 100, 1000, seconds, settings=flush)
    print(row(f"tickstream (Hub, {FAST_FLUSH_MS} ms flush)", fast), flush=True)
    batched = run("plain", clients, 10, 100, 1000, seconds, settings=flush)
    print(row(f"plain websockets, batched {FAST_FLUSH_MS} ms", batched), flush=True)
    plain = run("plain", clients, 10, 100, 1000, seconds)
    print(row("plain websockets broadcast", plain), flush=True)
    if "error" in fast:
        return
    offered = fast.get("offered_per_s", 0)
    delivered = fast.get("updates_per_s", 0)
    gaps = fast.get("seq_gaps", 0)
    met = {True: "met", False: "NOT met"}
    every = met[delivered >= 0.99 * offered]
    print(f"  every update delivered: {delivered:,} of {offered:,}/s: {every}")
    print(f"  no silent gap: {gaps} gaps: {met[not gaps]}")
    for name, key, unit, limit in (
        ("p99", "latency_ms_p99", "ms", FAST_TARGETS["p99"]),
        ("max", "latency_ms_max", "ms", FAST_TARGETS["max"]),
        ("server CPU", "server_cpu_pct", "%", FAST_TARGETS["cpu"]),
    ):
        value = fast.get(key)
        print(f"  {name}: {value} {unit}: {met[value is not None and value <= limit]}")
    for label, r in (
        (f"plain websockets batched every {FAST_FLUSH_MS} ms (the limit of the design)", batched),
        ("the plain broadcast, a frame per update", plain),
    ):
        if "error" not in r:
            print(
                f"  {label}, same run: p99 {r.get('latency_ms_p99')} ms, max "
                f"{r.get('latency_ms_max')} ms, CPU {r.get('server_cpu_pct')} %, "
                f"{r.get('updates_per_s', 0):,} updates/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller N")
    parser.add_argument("--split-only", action="store_true", help="only scenario D")
    parser.add_argument("--fast-only", action="store_true", help="only scenario E")
    options = parser.parse_args()
    seconds = 5 if options.quick else 10
    split_n = 1000 if options.quick else 2000
    if options.split_only:
        split_scenario(split_n, seconds)
        return
    if options.fast_only:
        fast_flush_scenario(300 if options.quick else 1000, 30 if options.quick else 60)
        return
    n1, n2, n3 = (300, 1000, 2000) if options.quick else (1000, 5000, 10000)
    print(
        "tickstream fan-out benchmark (one server process, load generator in another; "
        f"{os.cpu_count()} cores)\n"
    )
    print(
        f"scenario A: N={n1} clients, each following the trades of K=10 of S=100 symbols, "
        f"R=1,000 trades/s (offered {n1 * 100:,} updates/s)"
    )
    print(HEADER)
    results = {}
    for kind, label in [
        ("tickstream", "tickstream (Hub, 100 ms flush)"),
        ("plain", "plain websockets broadcast"),
    ]:
        results[kind] = run(kind, n1, 10, 100, 1000, seconds)
        print(row(label, results[kind]), flush=True)
    tail_s = 30 if options.quick else 60
    tail = run("tickstream", n1, 10, 100, 1000, tail_s)
    print(row(f"tickstream, {tail_s} s window", tail), flush=True)
    for label, r in ((f"{seconds} s", results["tickstream"]), (f"{tail_s} s", tail)):
        if "error" not in r:
            print(
                f"  tickstream over {label}: max latency {r.get('latency_ms_max')} ms, "
                f"{r['full_gcs']} full collections in the window (longest "
                f"{r['full_gc_max_ms']:.0f} ms)"
            )
    ts = results["tickstream"].get("updates_per_s", 0)
    if results["plain"].get("updates_per_s"):
        print(
            f"  tickstream delivers {ts / results['plain']['updates_per_s']:.2f}x plain websockets"
        )
    else:
        print(
            "  plain websockets sends every update as its own frame: at this N the load "
            "generator cannot take them all (see A')"
        )
    for small in (300, 100):
        print(
            f"\nscenario A' (N={small}): the references where the load generator keeps up, "
            f"K=10, S=100, R=1,000 (offered {small * 100:,} updates/s)"
        )
        print(HEADER)
        kinds = [
            ("tickstream", "tickstream (Hub, 100 ms flush)"),
            ("plain", "plain websockets broadcast"),
        ]
        if small <= 100:  # the tutorials' pattern cannot complete 300 handshakes under load
            kinds.append(("naive", "tutorials' pattern (group_send)"))
        mine: dict[str, Any] = {}
        for kind, label in kinds:
            mine[kind] = run(kind, small, 10, 100, 1000, seconds)
            print(row(label, mine[kind]), flush=True)
        for kind, label in [("plain", "plain websockets"), ("naive", "the tutorials' pattern")]:
            if mine.get(kind, {}).get("updates_per_s"):
                theirs = mine[kind]["updates_per_s"]
                here = mine["tickstream"].get("updates_per_s", 0)
                print(
                    f"  tickstream delivers {here / theirs:.2f}x "
                    f"{label} at N={small}; tickstream at N={n1} delivers {ts / theirs:.0f}x "
                    f"what {label} delivers here"
                )
    print(f"\nscenario B: N={n2}, K=10, S=100, R=1,000 (offered {n2 * 100:,} updates/s)")
    print(HEADER)
    print(
        row("tickstream (Hub, 100 ms flush)", run("tickstream", n2, 10, 100, 1000, seconds)),
        flush=True,
    )
    print(f"\nscenario C: N={n3} idle connections (memory)")
    print(HEADER)
    idle = run("tickstream", n3, 10, 100, 1000, seconds, idle=True)
    print(row("tickstream", idle))
    bare = run("bare", n3, 10, 100, 1000, seconds, idle=True)
    print(row("bare uvicorn (accept only)", bare))
    if bare.get("rss_kb_per_conn") and idle.get("rss_kb_per_conn"):
        own = idle["rss_kb_per_conn"] - bare["rss_kb_per_conn"]
        print(
            f"  tickstream's own share: {own:.1f} KB per idle connection above uvicorn's "
            "(memory while every client is connected)"
        )
        after = idle["rss_kb_per_conn_after_close"] - bare["rss_kb_per_conn_after_close"]
        print(
            f"  after all {n3:,} clients left at once: {after:.1f} KB per connection above "
            "uvicorn's (the peak of their closing, kept by the allocator)"
        )
        window = idle["rss_window_s"]
        growth = market_growth_kb(100, 1000, window)
        net = own - growth / n3
        print(
            f"  control: tickstream with no client grows {growth / 1024:.1f} MB over the same "
            f"{window:.0f} s (its market filling), {growth / n3:.1f} KB per connection of the "
            f"figure above; without it, {net:.1f} KB per idle connection above uvicorn's"
        )
    split_scenario(split_n, seconds)
    fast_flush_scenario(300 if options.quick else 1000, 30 if options.quick else 60)
    print(
        "\nThe load generator is a Python process on the same 2-core machine: where it "
        "saturates, the figures are its limit, not the server's (see server cpu%)."
    )


if __name__ == "__main__":
    main()
