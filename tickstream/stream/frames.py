"""How a connection's frames reach its socket: one seam, two ways.

`FrameWriter.write_now` writes a pre-framed websocket text frame straight to uvicorn's
transport while the socket keeps up (no coroutine, ASGI event, re-encode or websockets frame
object per frame); `send` is the ASGI fallback, used for everything else: another server,
uvicorn's `--ws websockets`, a negotiated permessage-deflate (which transforms payloads), or
a transport that is buffering.
"""

from __future__ import annotations

import struct
from typing import Any

try:  # the server's websocket protocol, for writing pre-framed bytes
    from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol
except ImportError:  # pragma: no cover - another ASGI server
    WebSocketsSansIOProtocol = None

DIRECT_HIGH_WATER = 64 * 1024  # bytes buffered in the transport before frames queue instead


def text_frame(payload: bytes) -> bytes:
    """One unfragmented, unmasked websocket text frame (RFC 6455 section 5.2)."""
    n = len(payload)
    if n < 126:
        return bytes((0x81, n)) + payload
    if n < 65_536:
        return struct.pack("!BBH", 0x81, 126, n) + payload
    return struct.pack("!BBQ", 0x81, 127, n) + payload


def direct_protocol(send: Any) -> Any | None:
    """uvicorn's sans-I/O websocket protocol behind `send`, when frames can go straight to
    its transport: no negotiated extension; None otherwise."""
    proto = getattr(send, "__self__", None)
    if WebSocketsSansIOProtocol is None or not isinstance(proto, WebSocketsSansIOProtocol):
        return None
    if proto.conn.extensions:
        return None
    return proto


class FrameWriter:
    """Writes one connection's frames (the payload is the JSON text, as bytes)."""

    __slots__ = ("_send", "direct", "_transport")

    def __init__(self, send: Any) -> None:
        self._send = send
        self.direct = direct_protocol(send)  # None: every frame goes through `send`
        self._transport = None if self.direct is None else self.direct.transport

    def write_now(self, frame: bytes) -> bool | None:
        """Write at once if the socket keeps up: True written, False the caller must queue
        it (and `send` it), None the peer is gone (drop it)."""
        transport = self._transport
        if transport is None:
            return False
        if self.direct.close_sent or transport.is_closing():
            return None
        if transport.get_write_buffer_size() > DIRECT_HIGH_WATER:
            return False
        transport.write(text_frame(frame))
        return True

    async def send(self, frame: bytes) -> None:
        """The ASGI way: waits while the server applies back-pressure."""
        await self._send({"type": "websocket.send", "text": frame.decode()})
