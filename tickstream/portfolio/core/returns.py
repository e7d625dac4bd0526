"""Returns of a portfolio (pure): money-weighted (XIRR) and time-weighted.

Rates are floats: they are ratios for display, not money.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date

DAYS_PER_YEAR = 365.0  # the spreadsheet function's convention


class ReturnError(ValueError):
    """No return can be computed from these figures (`code` says why)."""

    code = "no_return"


def xirr(flows: Sequence[tuple[date, float]], *, guess: float = 0.1) -> float:
    """The annual rate at which the flows' present value is zero, as the spreadsheet
    function XIRR computes it: money paid in is negative, money out (and the final value)
    positive, discounted by (days since the first flow) / 365."""
    if len(flows) < 2:
        raise ReturnError("XIRR needs at least two flows")
    if not any(a > 0 for _, a in flows) or not any(a < 0 for _, a in flows):
        raise ReturnError("XIRR needs money in and money out")
    start = min(d for d, _ in flows)
    years = [((d - start).days / DAYS_PER_YEAR, a) for d, a in flows]

    def value(rate: float) -> float:
        return float(sum(a / (1.0 + rate) ** t for t, a in years))

    def slope(rate: float) -> float:
        return float(sum(-t * a / (1.0 + rate) ** (t + 1) for t, a in years))

    rate = guess
    for _ in range(100):  # Newton, while it behaves
        f, df = value(rate), slope(rate)
        if df == 0 or not math.isfinite(f):
            break
        step = f / df
        rate -= step
        if rate <= -1:
            break
        if abs(step) < 1e-12:
            return rate
    # Bisection between -99.99% and a bound that changes the sign: always converges.
    low, high = -0.9999, 1.0
    while value(high) > 0 and high < 1e9:
        high *= 2
    if value(low) * value(high) > 0:
        raise ReturnError("the flows have no rate of return")
    for _ in range(300):
        mid = (low + high) / 2
        if value(low) * value(mid) <= 0:
            high = mid
        else:
            low = mid
        if high - low < 1e-13:
            break
    return (low + high) / 2


def time_weighted(values: Sequence[tuple[float, float]]) -> float:
    """Time-weighted return over sub-periods: `values` are (value at the start of a
    sub-period after its flow, value at its end), chained: prod(end / start) - 1. A
    sub-period starting at zero value (nothing held) is skipped."""
    growth = 1.0
    for start, end in values:
        if start > 0:
            growth *= end / start
    return growth - 1.0
