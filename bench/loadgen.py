"""The load generator: N websocket clients following K of S symbols' trades.

Runs in its own process. Prints one JSON line: connection setup rate, delivered updates
and frames per second, latency from the trade's `ts_event` to receipt (p50, p99, max),
gaps in trade sequence numbers, gap notices and reset snapshots.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import resource
import statistics
import time

import orjson
import websockets


class Stats:
    def __init__(self) -> None:
        self.updates = 0
        self.frames = 0
        self.latencies: list[int] = []
        self.seq_gaps = 0
        self.duplicates = 0
        self.gap_events: list[tuple[str, int, int]] = []
        self.gap_notices = 0
        self.resets = 0
        self.measuring = False


def subscribe_message(kind: str, symbols: list[str]) -> str:
    if kind == "tickstream":
        return json.dumps(
            {"op": "subscribe", "id": 1, "channels": [f"trades:{s}" for s in symbols]}
        )
    return json.dumps({"symbols": symbols})


async def client(
    url: str,
    kind: str,
    symbols: list[str],
    stats: Stats,
    ready: asyncio.Event,
    connected: list[float],
    stop: asyncio.Event,
    idle: bool,
) -> None:
    async with websockets.connect(url, open_timeout=60, max_queue=None, ping_interval=None) as ws:
        connected.append(time.perf_counter())
        if not idle:
            await ws.send(subscribe_message(kind, symbols))
        ready.set()
        last: dict[str, int] = {}
        # A tenth of the clients parse every frame (latency, sequence gaps); the others
        # count updates without parsing, so the generator itself stays fast enough.
        sample = random.random() < 0.1
        while not stop.is_set():
            try:
                raw = await asyncio.wait_for(ws.recv(), 0.5)
            except TimeoutError:
                continue
            now = time.time_ns()
            if not stats.measuring:
                continue
            if not sample:
                stats.frames += 1
                text = raw if isinstance(raw, bytes) else raw.encode()
                stats.updates += text.count(b'"type":"update"') if kind == "tickstream" else 1
                continue
            data = orjson.loads(raw)
            items = data if isinstance(data, list) else [data]
            stats.frames += 1
            for m in items:
                if kind == "tickstream":
                    t = m.get("type")
                    if t == "gap":
                        stats.gap_notices += 1
                        continue
                    if t == "snapshot":
                        stats.resets += bool(m.get("reset"))
                        last[m["channel"]] = m["seq"]
                        continue
                    if t != "update":
                        continue
                    channel, seq = m["channel"], m["seq"]
                    previous = last.get(channel)
                    if previous is not None and seq <= previous:
                        stats.duplicates += 1  # already applied (ignored, as clients must)
                        continue
                    if previous is not None and seq > previous + 1:
                        stats.seq_gaps += seq - previous - 1
                        stats.gap_events.append((channel, previous, seq))
                    last[channel] = seq
                    trade = m["data"]
                else:
                    trade = m
                stats.updates += 1
                if sample:
                    stats.latencies.append(now - trade["ts_event"])


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--kind", choices=["tickstream", "naive", "plain"], required=True)
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--follow", type=int, default=10)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--idle", action="store_true")
    options = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    rng = random.Random(1)
    names = [f"B{i:03d}" for i in range(options.symbols)]
    stats = Stats()
    stop = asyncio.Event()
    connected: list[float] = []
    tasks, started = [], time.perf_counter()
    batch = 250  # handshakes in flight at once, as a crowd of real clients would spread out
    for index in range(options.clients):
        ready = asyncio.Event()
        follow = rng.sample(names, options.follow)
        tasks.append(
            asyncio.create_task(
                client(
                    options.url, options.kind, follow, stats, ready, connected, stop, options.idle
                )
            )
        )
        if len(tasks) % batch == 0 or index == options.clients - 1:
            while len(connected) < len(tasks):
                await asyncio.sleep(0.02)
                failed = [t for t in tasks if t.done() and t.exception()]
                if failed:
                    raise SystemExit(f"{len(failed)} clients failed: {failed[0].exception()!r}")
    setup_s = max(connected) - started
    await asyncio.sleep(options.warmup)
    stats.measuring = True
    t0 = time.perf_counter()
    cpu0 = time.process_time()
    await asyncio.sleep(options.seconds)
    stats.measuring = False
    elapsed = time.perf_counter() - t0
    loadgen_cpu = 100 * (time.process_time() - cpu0) / elapsed
    stop.set()
    lat = sorted(stats.latencies)

    def pct(p: float) -> float | None:
        return round(lat[min(len(lat) - 1, int(p * len(lat)))] / 1e6, 1) if lat else None

    print(
        json.dumps(
            {
                "clients": options.clients,
                "setup_per_s": round(options.clients / setup_s),
                "updates_per_s": round(stats.updates / elapsed),
                "frames_per_s": round(stats.frames / elapsed),
                "latency_ms_p50": pct(0.50),
                "latency_ms_p99": pct(0.99),
                "latency_ms_max": round(lat[-1] / 1e6, 1) if lat else None,
                "latency_mean_ms": round(statistics.fmean(lat) / 1e6, 1) if lat else None,
                "seq_gaps": stats.seq_gaps,
                "gap_notices": stats.gap_notices,
                "resets": stats.resets,
                "loadgen_cpu_pct": round(loadgen_cpu),
                "duplicates": stats.duplicates,
                "gap_examples": stats.gap_events[:5],
            }
        ),
        flush=True,
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
