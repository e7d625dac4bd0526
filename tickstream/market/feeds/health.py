"""What each running feed reports about itself: its state, the age of its last message and
its counters. The runtime serves these on `GET /api/feeds/` and the `feeds` channel."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from tickstream.market.core.ticks import NS_PER_S


class FeedState(StrEnum):
    CONNECTING = "connecting"
    LIVE = "live"
    RECONNECTING = "reconnecting"
    FAILED = "failed"
    FINISHED = "finished"


@dataclass(slots=True)
class FeedHealth:
    """One feed's state and counters (mutated on the event loop only)."""

    kind: str
    venue: str
    symbols: list[str]
    # A live feed silent for longer than this is shown as lagging.
    stale_after_s: float = 10.0
    state: FeedState = FeedState.CONNECTING
    last_message_ns: int | None = None
    messages: int = 0
    ticks: int = 0
    refused: int = 0
    reconnects: int = 0
    errors: Counter[str] = field(default_factory=Counter)
    detail: str = ""  # the last problem, in words

    def message(self) -> None:
        self.messages += 1
        self.last_message_ns = time.time_ns()
        if self.state in (FeedState.CONNECTING, FeedState.RECONNECTING):
            self.state = FeedState.LIVE

    def error(self, kind: str, detail: str = "") -> None:
        self.errors[kind] += 1
        if detail:
            self.detail = detail[:300]

    def age_s(self, now_ns: int | None = None) -> float | None:
        if self.last_message_ns is None:
            return None
        return max(0.0, ((now_ns or time.time_ns()) - self.last_message_ns) / NS_PER_S)

    def as_dict(self, now_ns: int | None = None) -> dict[str, Any]:
        age = self.age_s(now_ns)
        return {
            "kind": self.kind,
            "venue": self.venue,
            "symbols": list(self.symbols),
            "state": self.state.value,
            "lagging": self.state == FeedState.LIVE and (age is None or age > self.stale_after_s),
            "last_message_age_s": None if age is None else round(age, 3),
            "messages": self.messages,
            "ticks": self.ticks,
            "refused": self.refused,
            "reconnects": self.reconnects,
            "errors": dict(self.errors),
            "detail": self.detail,
        }
