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

    def ready(self) -> bool:
        """Whether a message may be logged now (and count it as logged)."""
        now = time.monotonic()
        if now - self._last >= self.interval:
            self._last = now
            return True
        return False

    def warn(self, message: str, *args: object) -> None:
        if self.ready():
            self.logger.warning(message, *args)
