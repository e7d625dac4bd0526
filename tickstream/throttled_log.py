"""Warnings that repeat at most once per interval, so an overload is reported, not spammed."""

from __future__ import annotations

import logging
import time


class ThrottledWarning:
    """`warn()` logs at WARNING at most once every `interval` seconds."""

    def __init__(self, logger: logging.Logger, interval: float = 10.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last = -interval

    def warn(self, message: str, *args: object) -> None:
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            self.logger.warning(message, *args)
