"""Candle intervals."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tickstream.market.core.ticks import NS_PER_S

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
_PATTERN = re.compile(r"^([1-9][0-9]*)([smhd])$")
# Sizes that divide a day evenly, so buckets line up with UTC midnight.
_ALLOWED_SECONDS = {
    1,
    5,
    10,
    15,
    30,
    60,
    120,
    180,
    300,
    600,
    900,
    1800,
    3600,
    7200,
    14400,
    21600,
    43200,
    86_400,
}


class IntervalError(ValueError):
    """An interval name that tickstream does not support."""


@dataclass(frozen=True, slots=True)
class Interval:
    """A candle size; buckets start at multiples of it since the epoch (UTC)."""

    name: str
    seconds: int

    @property
    def ns(self) -> int:
        return self.seconds * NS_PER_S

    def bucket(self, ts: int) -> int:
        """Return the start (ns) of the bucket holding the time `ts` (ns)."""
        size = self.seconds * NS_PER_S
        return ts - ts % size


def parse_interval(name: str) -> Interval:
    """Parse `1s`, `1m`, `5m`, `15m`, `1h`, `1d` and other sizes that divide a day."""
    match = _PATTERN.match(name.strip())
    if not match:
        raise IntervalError(f"unknown interval {name!r}: use e.g. 1s, 1m, 5m, 15m, 1h, 1d")
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if seconds not in _ALLOWED_SECONDS:
        raise IntervalError(f"interval {name!r} does not divide a day evenly")
    return Interval(name.strip(), seconds)


STANDARD_INTERVALS: tuple[Interval, ...] = tuple(
    parse_interval(n) for n in ("1s", "1m", "5m", "15m", "1h", "1d")
)
