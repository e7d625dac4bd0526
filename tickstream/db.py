"""Database calls of long-running loops outside a request (the feed process's hooks and
writers): Django closes broken connections only around requests, so a loop that met a
database outage would keep its dead connection forever. `reconnecting` closes what broke
so the next call opens a new one; `Outage` reports an outage once, then how it goes,
instead of a traceback per attempt."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from asgiref.sync import sync_to_async
from django.db import DatabaseError, connections

from tickstream.throttled_log import ThrottledWarning

T = TypeVar("T")


def reconnecting(fn: Callable[..., T]) -> Callable[..., T]:
    """`fn`, closing the connections a database error left unusable before it re-raises.
    Run it in the thread (and context) whose connection it uses."""

    def call(*args: Any, **kwargs: Any) -> T:
        try:
            return fn(*args, **kwargs)
        except DatabaseError:
            for connection in connections.all(initialized_only=True):
                if not connection.in_atomic_block:
                    connection.close_if_unusable_or_obsolete()
            raise

    return call


async def db_call(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """`fn(*args, **kwargs)` in Django's sync thread, `reconnecting`."""
    result: T = await sync_to_async(reconnecting(fn))(*args, **kwargs)
    return result


def summary(exc: BaseException) -> str:
    """An error in one line: the first of its message, or its type."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class Outage:
    """The log of one loop's database failures: the first with its traceback, later ones
    at most every `interval` seconds with their count, and the recovery."""

    def __init__(self, logger: logging.Logger, what: str, interval: float = 10.0) -> None:
        self.logger = logger
        self.what = what
        self.failures = 0
        self._throttle = ThrottledWarning(logger, interval)

    def failed(self, exc: BaseException) -> None:
        self.failures += 1
        if self.failures == 1:
            self.logger.error("%s failed", self.what, exc_info=exc)
            self._throttle.ready()
        else:
            self._throttle.warn(
                "%s still failing (%d times): %s", self.what, self.failures, summary(exc)
            )

    def ok(self) -> None:
        if self.failures:
            self.logger.warning("%s works again after %d failures", self.what, self.failures)
            self.failures = 0
