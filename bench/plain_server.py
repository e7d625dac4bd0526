"""Reference: a plain `websockets` server broadcasting each tick as its own pre-encoded frame
to the sockets following its symbol (the practical limit without batching).

With a flush interval (the fourth argument, in ms), it batches as tickstream's Hub does:
each update is encoded once and queued for its symbol's sockets, and every interval each
socket with something queued gets one frame, the JSON list of its updates. That is the
least a batching server can do per flush (a join and a write per socket), so it is the
machine's limit for that design at that interval.
"""

from __future__ import annotations

import asyncio
import json
import sys

import orjson
import websockets

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from bench.common import run_feed  # noqa: E402

subscribers: dict[str, set[websockets.ServerConnection]] = {}
queued: dict[websockets.ServerConnection, list[bytes]] = {}  # batching: what each awaits


async def handler(ws: websockets.ServerConnection) -> None:
    mine: list[str] = []
    try:
        async for raw in ws:
            for symbol in json.loads(raw).get("symbols", []):
                subscribers.setdefault(symbol, set()).add(ws)
                mine.append(symbol)
    finally:
        for symbol in mine:
            subscribers.get(symbol, set()).discard(ws)
        queued.pop(ws, None)


def emit(symbol: str, trade: dict[str, object]) -> None:
    conns = subscribers.get(symbol)
    if conns:
        websockets.broadcast(conns, orjson.dumps(trade).decode())


def enqueue(symbol: str, trade: dict[str, object]) -> None:
    conns = subscribers.get(symbol)
    if conns:
        encoded = orjson.dumps(trade)
        for ws in conns:
            pending = queued.get(ws)
            if pending is None:
                queued[ws] = [encoded]
            else:
                pending.append(encoded)


async def flush_every(seconds: float) -> None:
    loop = asyncio.get_running_loop()
    due = loop.time()
    while True:
        due += seconds
        await asyncio.sleep(max(0.0, due - loop.time()))
        batch = list(queued.items())
        queued.clear()
        for ws, items in batch:
            websockets.broadcast((ws,), (b"[" + b",".join(items) + b"]").decode())


async def main(port: int, symbols: int, rate: float, flush_ms: float) -> None:
    async with websockets.serve(
        handler, "127.0.0.1", port, backlog=4096, max_queue=None, compression=None
    ):  # as tickstream by default
        if flush_ms <= 0:
            await run_feed(symbols, rate, emit)
        else:
            flusher = asyncio.create_task(flush_every(flush_ms / 1000))
            try:
                await run_feed(symbols, rate, enqueue)
            finally:
                flusher.cancel()


if __name__ == "__main__":
    flush = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3]), flush))
