"""Times on the wire: the quick ISO 8601 writer agrees with datetime's own."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.market.core.ticks import datetime_to_iso, ns_to_datetime, ns_to_iso
from tickstream.market.core.validation import MAX_TS, MIN_TS


@settings(max_examples=500, deadline=None)
@given(
    st.one_of(
        st.integers(MIN_TS, MAX_TS - 1),
        # Whole seconds and whole microseconds, where the fraction is left out or padded.
        st.integers(MIN_TS // 10**9, MAX_TS // 10**9 - 1).map(lambda s: s * 10**9),
        st.integers(MIN_TS // 10**3, MAX_TS // 10**3 - 1).map(lambda us: us * 10**3),
    )
)
def test_iso_time_is_what_datetime_writes(ts: int) -> None:
    ns_to_iso.cache_clear()
    assert ns_to_iso(ts) == datetime_to_iso(ns_to_datetime(ts))


def test_iso_time_examples() -> None:
    assert ns_to_iso(0) == "1970-01-01T00:00:00Z"
    assert ns_to_iso(1_704_164_645_123_456_789) == "2024-01-02T03:04:05.123456Z"
    assert ns_to_iso(-1) == "1969-12-31T23:59:59.999999Z"
    assert ns_to_iso(1_704_164_645_000_001_000) == "2024-01-02T03:04:05.000001Z"
