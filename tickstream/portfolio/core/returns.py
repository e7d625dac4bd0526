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
    positive, discounted by (days since the first flow) / 365. ReturnError when no rate
    says anything: one-sided flows, flows all on one day (no time invested), or no rate
    between -100 % and the largest a float can discount."""
    if len(flows) < 2:
        raise ReturnError("XIRR needs at least two flows")
    if not any(a > 0 for _, a in flows) or not any(a < 0 for _, a in flows):
        raise ReturnError("XIRR needs money in and money out")
    start = min(d for d, _ in flows)
    years = [((d - start).days / DAYS_PER_YEAR, a) for d, a in flows]
    horizon = max(t for t, _ in years)
    if horizon == 0:
        raise ReturnError("the money was invested for no time")

    def value(rate: float) -> float:
        growth = math.log1p(rate)
        return math.fsum(a * _exp(-t * growth) for t, a in years)

    def slope(rate: float) -> float:
        growth = math.log1p(rate)
        return math.fsum(-t * a * _exp((-t - 1) * growth) for t, a in years)

    rate = guess
    for _ in range(100):  # Newton, while it behaves
        f, df = value(rate), slope(rate)
        if df == 0 or not math.isfinite(f) or not math.isfinite(df):
            break
        step = f / df
        rate -= step
        if rate <= -1 or not math.isfinite(rate):
            break
        if abs(step) < 1e-12:
            return rate
    # Bisection between the lowest and highest rates a float can discount over the
    # horizon (-99.99 % at most): always converges.
    low = max(-0.9999, math.expm1(-_EXP_LIMIT / horizon))
    ceiling = math.expm1(_EXP_LIMIT / horizon)
    high = min(1.0, ceiling)
    while value(high) > 0 and high < ceiling:
        high = min(high * 2, ceiling)
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


_EXP_LIMIT = 700.0  # exp() of more overflows a float


def _exp(x: float) -> float:
    return math.exp(max(-_EXP_LIMIT, min(_EXP_LIMIT, x)))


def time_weighted(values: Sequence[tuple[float, float]]) -> float:
    """Time-weighted return over sub-periods: `values` are (value at the start of a
    sub-period after its flow, value at its end), chained: prod(end / start) - 1. A
    sub-period starting at zero value (nothing held) is skipped."""
    growth = 1.0
    for start, end in values:
        if start > 0:
            growth *= end / start
    return growth - 1.0
