"""ASGI lifespan: starts the embedded market runtime with the server, stops it with it."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings

log = logging.getLogger(__name__)


async def lifespan_app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """Handle `lifespan.startup` / `lifespan.shutdown` for the whole process."""
    from tickstream.market import runtime

    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            if settings.FEEDS_MODE == "embedded":
                try:
                    await runtime.start_embedded()
                except Exception as exc:
                    log.exception("the market runtime did not start")
                    await send({"type": "lifespan.startup.failed", "message": str(exc)})
                    return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            from tickstream.stream.hub import stop_hub

            await stop_hub()
            await runtime.stop_embedded()
            await send({"type": "lifespan.shutdown.complete"})
            return
