"""The load generator: N websocket clients following K of S symbols' trades.

Runs in its own process. Prints one JSON line: connection setup rate, delivered updates
and frames per second, latency from the trade's `ts_event` to receipt (p50, p99, max),
gaps in trade sequence numbers, gap notices and reset snapshots.

The measured window starts once every client is connected and, on tickstream's protocol,
subscribed (its `subscribed` answer came, with the snapshots): what a subscription costs
the server (building a live portfolio from its transactions) is reported apart
(`subscribed_s`), not mixed into the steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import random
import resource
import statistics
import struct
import time
from datetime import datetime
from pathlib import Path
from urllib.parse import urlsplit

import orjson


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
        self.answered = 0  # clients whose subscription was answered
        self.unanswered = 0  # clients closed before it was (not measured)
        self.closed: dict[int, int] = {}  # close frames received, by code
        self.refusals: list[str] = []  # error frames answering a subscribe


def subscribe_message(kind: str, symbols: list[str]) -> str:
    if kind == "portfolio":  # `symbols` holds the client's channel
        return json.dumps({"op": "subscribe", "id": 1, "channels": symbols})
    if kind == "tickstream":
        return json.dumps(
            {"op": "subscribe", "id": 1, "channels": [f"trades:{s}" for s in symbols]}
        )
    return json.dumps({"symbols": symbols})


class Client(asyncio.Protocol):
    """A minimal websocket client on a bare asyncio protocol: handshake, one subscribe
    frame, then frames parsed straight from the socket's bytes (answering pings).

    A library client spends far more per frame than the servers under test; this one keeps
    the generator's own cost per frame small, so the figures are the server's.
    """

    def __init__(
        self, url: str, kind: str, symbols: list[str], stats: Stats, idle: bool, sample: bool
    ) -> None:
        parts = urlsplit(url)
        self.request = (
            f"GET {parts.path or '/'}{'?' + parts.query if parts.query else ''} HTTP/1.1\r\n"
            f"Host: {parts.netloc}\r\n"
            "Upgrade: websocket\r\nConnection: Upgrade\r\n"
            f"Sec-WebSocket-Key: {base64.b64encode(os.urandom(16)).decode()}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode()
        self.kind = kind
        self.subscribe = None if idle else subscribe_message(kind, symbols).encode()
        self.stats = stats
        self.sample = sample
        self.buffer = bytearray()
        self.open = False
        self.opened: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        # Answered: tickstream's `subscribed` came (at once for others, and idle clients).
        self.answered: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.subscribe is None or kind not in ("tickstream", "portfolio"):
            self.answered.set_result(None)
        self.closed = asyncio.get_running_loop().create_future()
        self.last: dict[str, int] = {}
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        transport.write(self.request)

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.opened.done():
            self.opened.set_exception(exc or ConnectionError("closed during the handshake"))
        if not self.answered.done():
            self.answered.set_exception(exc or ConnectionError("closed before subscribed"))
        if not self.closed.done():
            self.closed.set_result(None)

    def send(self, opcode: int, payload: bytes) -> None:
        mask = os.urandom(4)
        n = len(payload)
        if n < 126:
            header = bytes((0x80 | opcode, 0x80 | n))
        else:
            header = struct.pack("!BBH", 0x80 | opcode, 0x80 | 126, n)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        assert self.transport is not None
        self.transport.write(header + mask + masked)

    def data_received(self, data: bytes) -> None:
        now = time.time_ns()
        buffer = self.buffer
        buffer += data
        if not self.open:
            end = buffer.find(b"\r\n\r\n")
            if end < 0:
                return
            status = bytes(buffer[:end]).split(b"\r\n", 1)[0]
            del buffer[: end + 4]
            if b" 101 " not in status:
                self.opened.set_exception(ConnectionError(status.decode()))
                assert self.transport is not None
                self.transport.close()
                return
            self.open = True
            self.opened.set_result(None)
            if self.subscribe is not None:
                self.send(0x1, self.subscribe)
        while len(buffer) >= 2:
            n = buffer[1] & 0x7F
            offset = 2
            if n == 126:
                if len(buffer) < 4:
                    return
                n, offset = int.from_bytes(buffer[2:4], "big"), 4
            elif n == 127:
                if len(buffer) < 10:
                    return
                n, offset = int.from_bytes(buffer[2:10], "big"), 10
            if len(buffer) < offset + n:
                return
            opcode = buffer[0] & 0x0F
            payload = bytes(buffer[offset : offset + n])
            del buffer[: offset + n]
            if opcode == 0x9:
                self.send(0xA, payload)
            elif opcode == 0x8:
                code = int.from_bytes(payload[:2], "big") if len(payload) >= 2 else 1005
                self.stats.closed[code] = self.stats.closed.get(code, 0) + 1
                assert self.transport is not None
                self.transport.close()
            elif opcode in (0x1, 0x2) and self.stats.measuring:
                self.frame(payload, now)
            elif opcode in (0x1, 0x2) and not self.answered.done():
                if b'"type":"subscribed"' in payload:
                    self.answered.set_result(None)
                elif b'"type":"error"' in payload:
                    self.stats.refusals.append(payload[:200].decode())
                    self.answered.set_exception(ConnectionError(payload[:200].decode()))

    def frame(self, raw: bytes, now: int) -> None:
        stats = self.stats
        stats.frames += 1
        if not self.sample:
            # Most clients count updates without parsing; a tenth parse every frame
            # (latency, sequence gaps).
            v1 = self.kind in ("tickstream", "portfolio")
            stats.updates += raw.count(b'"type":"update"') if v1 else raw.count(b'"ts_event"')
            return
        data = orjson.loads(raw)
        items = data if isinstance(data, list) else [data]
        for m in items:
            if self.kind in ("tickstream", "portfolio"):
                t = m.get("type")
                if t == "gap":
                    stats.gap_notices += 1
                    continue
                if t == "snapshot":
                    stats.resets += bool(m.get("reset"))
                    self.last[m["channel"]] = m["seq"]
                    continue
                if t != "update":
                    continue
                channel, seq = m["channel"], m["seq"]
                previous = self.last.get(channel)
                if previous is not None and seq <= previous:
                    stats.duplicates += 1  # already applied (ignored, as clients must)
                    continue
                if previous is not None and seq > previous + 1:
                    stats.seq_gaps += seq - previous - 1
                    stats.gap_events.append((channel, previous, seq))
                self.last[channel] = seq
                trade = m["data"]
            else:
                trade = m
            stats.updates += 1
            if self.kind == "portfolio":  # from the newest price's trade to receipt
                stamp = trade.get("as_of") or trade.get("time")  # a valuation, or a ticker
                as_of = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
                stats.latencies.append(now - int(as_of.timestamp() * 1e6) * 1000)
                continue
            stats.latencies.append(now - int(trade["ts_event"]))  # exact ns, as digits


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
    parts = urlsplit(url)
    loop = asyncio.get_running_loop()
    proto = Client(url, kind, symbols, stats, idle, random.random() < 0.1)
    transport, _ = await loop.create_connection(lambda: proto, parts.hostname, parts.port)
    try:
        await asyncio.wait_for(proto.opened, 60)
        connected.append(time.perf_counter())
        ready.set()
        try:
            await asyncio.wait_for(asyncio.shield(proto.answered), 300)
        except OSError:  # (ConnectionError among them)
            stats.unanswered += 1  # counted and reported; the others are measured
            return
        stats.answered += 1
        await asyncio.wait(
            [proto.closed, loop.create_task(stop.wait())], return_when="FIRST_COMPLETED"
        )
    finally:
        transport.close()


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--url", required=True, action="append", help="several: clients take them in turn"
    )
    parser.add_argument(
        "--kind", choices=["tickstream", "naive", "plain", "bare", "portfolio"], required=True
    )
    parser.add_argument("--clients", type=int, default=1000)
    parser.add_argument("--follow", type=int, default=10)
    parser.add_argument("--symbols", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--warmup", type=float, default=3)
    parser.add_argument("--idle", action="store_true")
    parser.add_argument(
        "--channels",
        help="portfolio: a file of each client's channels (',') one client after another (';')",
    )
    options = parser.parse_args()
    own = None
    if options.channels:  # read once, before any client starts
        text = Path(options.channels).read_text()  # noqa: ASYNC240
        own = [c.split(",") for c in text.split(";")]
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
        follow = own[index % len(own)] if own else rng.sample(names, options.follow)
        tasks.append(
            asyncio.create_task(
                client(
                    options.url[index % len(options.url)],
                    options.kind,
                    follow,
                    stats,
                    ready,
                    connected,
                    stop,
                    options.idle,
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
    while not all(t.done() for t in tasks) and stats.answered + stats.unanswered < len(tasks):
        await asyncio.sleep(0.05)
        failed = [t for t in tasks if t.done() and t.exception()]
        if failed:
            raise SystemExit(f"{len(failed)} clients failed: {failed[0].exception()!r}")
    subscribed_s = time.perf_counter() - started
    await asyncio.sleep(options.warmup)
    stats.measuring = True
    t0 = time.perf_counter()
    measured_from = time.monotonic()  # the system's clock: the benchmark reads it too
    cpu0 = time.process_time()
    await asyncio.sleep(options.seconds)
    stats.measuring = False
    measured = [measured_from, time.monotonic()]  # every client still connected
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
                "subscribed_s": round(subscribed_s, 1),
                "unanswered": stats.unanswered,
                "closed": stats.closed,
                "refusals": stats.refusals[:3],
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
                "measured": measured,
            }
        ),
        flush=True,
    )
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


if __name__ == "__main__":
    asyncio.run(main())
