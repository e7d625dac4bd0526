"""The channel layer of the one-process mode.

Channels' `InMemoryChannelLayer` deep-copies every message on every send, scans every
channel and group for expiry on every send and receive, creates a task per group member,
and drops messages to a full channel without a trace. At market-data rates that costs more
than everything else the pipeline does. This layer keeps its semantics but shares each
message between receivers (messages sent through it must be treated as immutable: nothing
in tickstream mutates a received message), sweeps expiry at most once a second, and counts
and logs what a full channel drops.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer

from tickstream.throttled_log import ThrottledWarning

log = logging.getLogger(__name__)


class LocalChannelLayer(InMemoryChannelLayer):
    def __init__(self, *, sweep_interval: float = 1.0, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.sweep_interval = sweep_interval
        self.dropped = 0
        self._next_sweep = 0.0
        self._full = ThrottledWarning(log)

    def _sweep(self) -> None:
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + self.sweep_interval
            self._clean_expired()

    async def send(self, channel: str, message: dict[str, Any]) -> None:
        """Queue a message (shared, not copied) on a channel."""
        if not isinstance(message, dict):
            raise TypeError("message is not a dict")
        self.require_valid_channel_name(channel)
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            queue.put_nowait((time.time() + self.expiry, message))
        except asyncio.QueueFull:
            raise ChannelFull(channel) from None

    async def receive(self, channel: str) -> dict[str, Any]:
        """The next message on a channel."""
        self.require_valid_channel_name(channel)
        self._sweep()
        queue = self.channels.get(channel)
        if queue is None:
            queue = self.channels[channel] = asyncio.Queue(maxsize=self.get_capacity(channel))
        try:
            _, message = await queue.get()
        finally:
            if queue.empty() and self.channels.get(channel) is queue:
                del self.channels[channel]
        result: dict[str, Any] = message
        return result

    async def group_send(self, group: str, message: dict[str, Any]) -> None:
        """Send to every member of a group; a full member channel loses the message, counted."""
        if not isinstance(message, dict):
            raise TypeError("message is not a dict")
        self.require_valid_group_name(group)
        self._sweep()
        members = self.groups.get(group)
        if not members:
            return
        for channel in list(members):
            try:
                await self.send(channel, message)
            except ChannelFull:
                self.dropped += 1
                self._full.warn(
                    "channel %s is full: %d group messages dropped so far", channel, self.dropped
                )
