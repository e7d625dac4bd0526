"""Reference: a plain `websockets` server broadcasting each tick as its own pre-encoded frame
to the sockets following its symbol (the practical limit without batching)."""

from __future__ import annotations

import asyncio
import json
import sys

import orjson
import websockets

sys.path.insert(0, __file__.rsplit("/", 2)[0])
from bench.common import run_feed  # noqa: E402

subscribers: dict[str, set[websockets.ServerConnection]] = {}


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


def emit(symbol: str, trade: dict[str, object]) -> None:
    conns = subscribers.get(symbol)
    if conns:
        websockets.broadcast(conns, orjson.dumps(trade).decode())


async def main(port: int, symbols: int, rate: float) -> None:
    async with websockets.serve(
        handler, "127.0.0.1", port, backlog=4096, max_queue=None, compression=None
    ):  # as tickstream by default
        await run_feed(symbols, rate, emit)


if __name__ == "__main__":
    asyncio.run(main(int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])))
