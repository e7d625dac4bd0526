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


def start_server(
    kind: str, port: int, symbols: int, rate: float, var: str, log: Path
) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "TICKSTREAM_DEVELOPMENT": "true",
        "TICKSTREAM_VAR_DIR": var,
        "PYTHONPATH": str(ROOT),
        "LOG_LEVEL": "WARNING",
        "SIM_BACKFILL_S": "0",  # the live market only, as in every scenario
    }
    if kind == "tickstream":
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
        env.update(
            {
                "SIM_RATE": str(rate),
                "SIM_SEED": "7",
                "FEEDS": "simulated",
                "SIM_SYMBOLS": ",".join(f"B{i:03d}" for i in range(symbols)),
            }
        )
        args = [PY, "-m", "tickstream", "run", "--port", str(port), "--log-level", "warning"]
    elif kind == "naive":
        env.update({"BENCH_RATE": str(rate), "BENCH_SYMBOLS": str(symbols)})
        args = uvicorn_args("bench.naive_app:application", port, "--lifespan", "on")
    elif kind == "bare":
        args = uvicorn_args("bench.bare_app:app", port, "--ws", "websockets-sansio")
    else:
        args = [PY, str(ROOT / "bench" / "plain_server.py"), str(port), str(symbols), str(rate)]
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
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as var:
        port = free_port()
        log = Path(var) / "server.log"
        try:
            server = start_server(kind, port, symbols, rate, var, log)
        except RuntimeError as exc:
            return {"error": [str(exc), *log.read_text().strip().splitlines()[-2:]]}
        try:
            time.sleep(2)
            base_rss = rss_kb(server.pid)
            path = {"tickstream": "/ws/v1/", "naive": "/ws/", "plain": "/", "bare": "/"}[kind]
            extra = ["--kind", kind, "--follow", str(follow), "--symbols", str(symbols)]
            result = drive(
                server.pid, f"ws://127.0.0.1:{port}{path}", extra, clients, seconds, idle
            )
            if "error" in result:
                return result
            rss = rss_kb(server.pid)
            result["server_rss_mb"] = round(rss / 1024, 1)
            result["rss_kb_per_conn"] = round((rss - base_rss) / clients, 1)
            result["offered_per_s"] = round(rate * follow / symbols * clients)
            return result
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
    pid: int, url: str, extra: list[str], clients: int, seconds: float, idle: bool = False
) -> dict[str, Any]:
    """Run the load generator against a server (`extra`: its scenario arguments); its
    figures plus the server's CPU over the measured window."""
    samples: list[tuple[float, float]] = []
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            samples.append((time.monotonic(), cpu_seconds(pid)))
            time.sleep(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    command = [
        PY,
        str(ROOT / "bench" / "loadgen.py"),
        "--url",
        url,
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
        result["server_cpu_pct"] = round(
            100 * (window[-1][1] - window[0][1]) / (window[-1][0] - window[0][0])
        )
    return result


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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="shorter runs, smaller N")
    options = parser.parse_args()
    seconds = 5 if options.quick else 10
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
    if bare.get("rss_kb_per_conn"):
        own = idle.get("rss_kb_per_conn", 0) - bare["rss_kb_per_conn"]
        print(f"  tickstream's own share: {own:.1f} KB per idle connection above uvicorn's")
    print(
        "\nThe load generator is a Python process on the same 2-core machine: where it "
        "saturates, the figures are its limit, not the server's (see server cpu%)."
    )


if __name__ == "__main__":
    main()
