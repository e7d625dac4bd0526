"""When a DAY order's session ends (pure): US stocks at 16:00 New York time on a weekday,
crypto at midnight UTC, exchange rates at the currency market's 17:00 New York cut."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

NEW_YORK = ZoneInfo("America/New_York")
CLOSE = time(16, 0)
FX_CUT = time(17, 0)


def session_end(kind: str, at: datetime) -> datetime:
    """The end of the session that `at` (aware) falls in, or of the next one if the
    market is closed then: the time a DAY order placed at `at` expires, in UTC."""
    if kind == "crypto":
        day = at.astimezone(UTC).date() + timedelta(days=1)
        return datetime.combine(day, time(0), UTC)
    close = FX_CUT if kind == "fx" else CLOSE
    local = at.astimezone(NEW_YORK)
    day = local.date()
    if local.time() >= close:
        day += timedelta(days=1)
    while day.weekday() >= 5:  # Saturday, Sunday
        day += timedelta(days=1)
    return datetime.combine(day, close, NEW_YORK).astimezone(UTC)
