"""Abusive websocket clients against the real server (uvicorn with tickstream's options, in
this test's event loop, so its tasks and memory can be counted): every limit holds, and a
closed connection leaves nothing behind."""

from __future__ import annotations

import asyncio
import gc
import logging
import socket
import tracemalloc
from collections.abc import AsyncIterator

import pytest
import websockets

from tests.stream.conftest import Market, serve
from tickstream.stream.core.protocol import ABUSE_LIMIT, CLOSE_ABUSE, MAX_FRAME_BYTES
from tickstream.stream.hub import get_hub

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
async def server(market: Market) -> AsyncIterator[str]:
    async with serve() as url:
        yield url


async def _abuse(url: str, path: str, frame: str) -> int | None:
    """Connect, send five times as many bad frames as the limit without waiting for the
    answers, then read until the server closes; its close code."""
    async with websockets.connect(f"ws://{url}{path}", open_timeout=10) as ws:
        try:
            for _ in range(ABUSE_LIMIT * 5):
                await ws.send(frame)
            async for _ in ws:
                pass
        except websockets.ConnectionClosed:
            pass
        return ws.close_code


async def _settled(baseline: int) -> int:
    """Tasks of this loop once the server has let the closed connections go."""
    for _ in range(200):
        gc.collect()
        count = len(asyncio.all_tasks())
        if count <= baseline:
            return count
        await asyncio.sleep(0.02)
    return len(asyncio.all_tasks())


async def test_clients_that_keep_sending_after_their_abuse_close_leave_nothing_behind(
    server: str, caplog: pytest.LogCaptureFixture
) -> None:
    hub = await get_hub()
    baseline = len(asyncio.all_tasks())
    tracemalloc.start()
    try:
        sizes = []
        for _ in range(3):  # the first round warms caches up; later ones must not grow
            codes = await asyncio.gather(*(_abuse(server, "/ws/v1/", "{bad") for _ in range(100)))
            assert set(codes) == {CLOSE_ABUSE}
            assert await _settled(baseline) <= baseline
            assert not hub.connections
            gc.collect()
            sizes.append(tracemalloc.get_traced_memory()[0])
    finally:
        tracemalloc.stop()
    # 100 leaked connections held over 10 MB before; allow a little allocator noise.
    assert sizes[2] - sizes[1] < 1_000_000, sizes
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert not errors, [r.getMessage() for r in errors]  # no "Unexpected ASGI message"


@pytest.mark.parametrize("path", ["/ws/stocks/", "/ws/cryptocurrency/", "/ws/ticker/"])
async def test_the_tutorial_endpoints_have_the_same_limits_and_close(
    server: str, path: str
) -> None:
    """10,000 bad frames once got 10,000 error replies; now a flood is closed with 4029."""
    errors = 0
    async with websockets.connect(f"ws://{server}{path}", open_timeout=10) as ws:
        for _ in range(200):
            await ws.send("{bad")
        try:
            while True:
                message = await asyncio.wait_for(ws.recv(), 10)
                errors += '"type":"error"' in message
        except websockets.ConnectionClosed:
            pass
        assert ws.close_code == CLOSE_ABUSE
    assert errors <= ABUSE_LIMIT


async def test_a_frame_over_the_limit_is_refused_while_it_is_read(server: str) -> None:
    async with websockets.connect(f"ws://{server}/ws/v1/", max_size=None) as ws:
        await ws.recv()  # welcome
        await ws.send("x" * (MAX_FRAME_BYTES + 1))
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1009  # message too big, from the server's reader


async def test_the_frame_limit_counts_bytes_not_characters(server: str) -> None:
    async with websockets.connect(f"ws://{server}/ws/v1/") as ws:
        await ws.recv()
        await ws.send('{"op":"ping","id":"' + "€" * 6_000 + '"}')  # 6,000 chars, 18,000 bytes
        with pytest.raises(websockets.ConnectionClosed):
            while True:
                await asyncio.wait_for(ws.recv(), 10)
        assert ws.close_code == 1009


async def test_an_upgrade_with_oversized_headers_is_answered_and_closed(server: str) -> None:
    host, port = server.split(":")

    def ask(header_bytes: int) -> tuple[bytes, bytes]:
        with socket.create_connection((host, int(port)), timeout=5) as sock:
            sock.sendall(
                (
                    f"GET /ws/v1/ HTTP/1.1\r\nHost: {server}\r\nUpgrade: websocket\r\n"
                    "Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    f"Sec-WebSocket-Version: 13\r\nX-Big: {'a' * header_bytes}\r\n\r\n"
                ).encode()
            )
            head = sock.recv(64)
            rest = b""
            while chunk := sock.recv(4096):  # until the server closes (a timeout fails)
                rest += chunk
            return head, rest

    head, _ = await asyncio.to_thread(ask, 9_000)
    assert head.startswith(b"HTTP/1.1 431")
