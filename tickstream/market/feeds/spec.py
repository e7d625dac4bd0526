"""One feed's entry of the FEEDS setting, parsed: its kind, its `key=value` options and the
checks every kind shares. A feed kind builds itself from one (`Feed.from_spec`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from tickstream.market.core.instruments import InstrumentSpec

MAX_BACKFILL_DAYS = 31.0  # at start; `manage.py backfill` fetches any range


class FeedConfigError(ValueError):
    """A FEEDS entry that cannot be turned into a feed."""


@dataclass(frozen=True, slots=True)
class FeedSpec:
    """`text` is the entry as written (quoted in every error); `defaults` are the settings a
    kind falls back on (the simulated market's `SIM_*`)."""

    text: str
    kind: str
    options: Mapping[str, str]
    instruments: Sequence[InstrumentSpec]
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def error(self, problem: str) -> FeedConfigError:
        return FeedConfigError(f"{self.text!r}: {problem}")

    def allow(self, *keys: str) -> None:
        """Refuse any option but `keys`."""
        for key in self.options:
            if key not in keys:
                raise self.error(f"unknown option {key!r} (allowed: {', '.join(sorted(keys))})")

    def text_of(self, key: str, default: str = "") -> str:
        return self.options.get(key, default)

    def names(self, key: str, *, upper: bool = False) -> list[str]:
        """A comma-separated option as a list (blank items dropped)."""
        items = [s.strip() for s in self.options.get(key, "").split(",") if s.strip()]
        return [s.upper() for s in items] if upper else items

    def number(self, key: str, default: float) -> float:
        """A finite, non-negative number."""
        try:
            value = float(self.options.get(key, default))
        except ValueError:
            raise self.error(f"{key} must be a number") from None
        if not math.isfinite(value) or value < 0:
            raise self.error(f"{key} must be a finite number, not negative")
        return value

    def backfill_days(self, default: float) -> float:
        """Days of past candles fetched at start (`backfill=`), at most MAX_BACKFILL_DAYS."""
        days = self.number("backfill", default)
        if days > MAX_BACKFILL_DAYS:
            raise self.error(
                f"backfill is at most {MAX_BACKFILL_DAYS:g} days at start "
                "(use manage.py backfill for more)"
            )
        return days

    def active(self, mapped: Sequence[str]) -> None:
        """Refuse instruments that are not active here."""
        active = {i.symbol for i in self.instruments if i.active}
        missing = [m for m in mapped if m not in active]
        if missing:
            raise self.error(
                f"no active instrument {', '.join(missing)} "
                "(add it, or name the instruments to price with map=...)"
            )
