"""How tickstream runs uvicorn: its websocket protocol and the limits it reads sockets with.

`python -m tickstream run` uses these; a deployment that starts uvicorn itself passes the
same as options (docs/deployment.md):
`--ws tickstream.stream.server:WebSocketProtocol --ws-max-size 16384`.
"""

from __future__ import annotations

from typing import Any

from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

from tickstream.stream.core.protocol import MAX_FRAME_BYTES

WS_PROTOCOL = "tickstream.stream.server:WebSocketProtocol"


class WebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's sans-I/O websocket protocol, answering an upgrade it cannot parse.

    When the upgrade request itself is refused while it is parsed (a header over 8 KiB,
    too many headers), the websockets parser prepares an HTTP error (431, 400) but uvicorn
    looks for output only after a complete request: the reply was never written and the
    socket stayed open until the client gave up. Here the reply is sent and the socket
    closed at once.
    """

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.handshake_initiated or self.transport.is_closing():
            return
        # Before a complete upgrade request, any output is the parser's refusal.
        refusal = self.conn.data_to_send()
        if any(refusal):
            self.transport.write(b"".join(refusal))
            self.close_sent = True
            self.transport.close()


def uvicorn_options(settings: Any) -> dict[str, Any]:
    """The websocket options of every server tickstream starts."""
    return {
        "ws": WS_PROTOCOL,
        # The socket refuses a frame over the protocol's limit while reading it (1009),
        # instead of reading up to uvicorn's default of 16 MiB first.
        "ws_max_size": MAX_FRAME_BYTES,
        "ws_per_message_deflate": settings.STREAM_COMPRESSION,
    }
