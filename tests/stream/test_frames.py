"""The frame writer: pre-framed bytes straight to uvicorn's transport where that is exact,
the ASGI `send` everywhere else (permessage-deflate negotiated, uvicorn's `--ws websockets`)."""

from __future__ import annotations

import asyncio
import json

import pytest
import websockets
from websockets.frames import Frame, Opcode

from tests.stream.conftest import Market, serve
from tickstream.stream.frames import text_frame
from tickstream.stream.hub import get_hub

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65_535, 65_536, 200_000])
def test_pre_framed_text_frames_are_the_bytes_a_websocket_library_writes(size: int) -> None:
    payload = b"x" * size
    assert text_frame(payload) == Frame(Opcode.TEXT, payload).serialize(mask=False)


async def _trades(url: str, market: Market, *, compression: str | None) -> tuple[list, bool]:
    """Subscribe, trade three times; the trade updates received and whether the server
    wrote them straight to its transport."""
    market.trade("AAPL", "230.00")
    async with websockets.connect(f"ws://{url}/ws/v1/", compression=compression) as ws:
        await ws.recv()  # welcome
        await ws.send(json.dumps({"op": "subscribe", "id": 1, "channels": ["trades:AAPL"]}))
        await ws.recv()  # subscribed + snapshot
        hub = await get_hub()
        [conn] = hub.connections
        direct = conn._writer.direct is not None  # type: ignore[attr-defined]
        for price in ("230.01", "230.02", "230.03"):
            market.trade("AAPL", price)
        got: list = []
        while len(got) < 3:
            frame = json.loads(await asyncio.wait_for(ws.recv(), 5))
            got += [m for m in frame if m["type"] == "update"]
    return [(m["seq"], m["data"]["price"]) for m in got], direct


EXPECTED = [(2, "230.01"), (3, "230.02"), (4, "230.03")]


async def test_frames_go_straight_to_the_transport_by_default(market: Market) -> None:
    async with serve() as url:
        got, direct = await _trades(url, market, compression=None)
    assert direct and got == EXPECTED


async def test_with_permessage_deflate_frames_take_the_asgi_path(market: Market) -> None:
    async with serve(ws_per_message_deflate=True) as url:
        got, direct = await _trades(url, market, compression="deflate")
    assert not direct and got == EXPECTED


# uvicorn's `websockets` implementation is built on websockets' legacy API, deprecated.
@pytest.mark.filterwarnings("ignore::DeprecationWarning")
@pytest.mark.filterwarnings("ignore:The `websockets` implementation is deprecated")
async def test_with_uvicorns_other_websocket_implementation_frames_take_the_asgi_path(
    market: Market,
) -> None:
    async with serve(ws="websockets") as url:
        got, direct = await _trades(url, market, compression=None)
    assert not direct and got == EXPECTED
