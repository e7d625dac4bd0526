"""Checks every tick passes before it may change market state."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from tickstream.market.instruments import InstrumentSpec
from tickstream.market.ticks import NS_PER_S, Tick


class RejectReason(StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    INACTIVE_SYMBOL = "inactive_symbol"
    BAD_PRICE = "bad_price"
    BAD_SIZE = "bad_size"
    STALE = "stale"
    FUTURE = "future_timestamp"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"


_MESSAGES = {
    RejectReason.UNKNOWN_SYMBOL: "no instrument with this symbol",
    RejectReason.INACTIVE_SYMBOL: "the instrument is not active",
    RejectReason.BAD_PRICE: "price must be a finite number greater than zero",
    RejectReason.BAD_SIZE: "size must be a finite number of zero or more",
    RejectReason.STALE: "the tick is older than the allowed delay",
    RejectReason.FUTURE: "the tick's time lies in the future",
    RejectReason.OUT_OF_ORDER: "the tick is older than the last one beyond the reorder tolerance",
    RejectReason.DUPLICATE: "a tick with this trade id was already accepted",
}


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: RejectReason
    message: str


def rejection(reason: RejectReason, detail: str = "") -> Rejection:
    """A rejection with the standard message of its reason, and an optional detail."""
    text = _MESSAGES[reason]
    return Rejection(reason, f"{text} ({detail})" if detail else text)


class TickValidator:
    """Validates ticks and counts what it rejects, by reason.

    Stateless checks (instrument, price, size, times) come first; then per symbol the
    reorder tolerance and a bounded memory of recent trade ids to drop duplicates.
    """

    def __init__(
        self,
        lookup: Callable[[str], InstrumentSpec | None],
        *,
        max_delay_s: float | None = 60.0,
        reorder_tolerance_s: float = 2.0,
        future_tolerance_s: float = 5.0,
        dedup_window: int = 10_000,
    ) -> None:
        self.lookup = lookup
        self.max_delay_ns = None if max_delay_s is None else int(max_delay_s * NS_PER_S)
        self.reorder_ns = int(reorder_tolerance_s * NS_PER_S)
        self.future_ns = int(future_tolerance_s * NS_PER_S)
        self.dedup_window = dedup_window
        self.rejected: Counter[str] = Counter()
        self.accepted = 0
        self._last_ts: dict[str, int] = {}
        self._seen: dict[str, OrderedDict[str, None]] = {}

    def check_static(self, tick: Tick, *, live: bool = True) -> Rejection | None:
        """Checks that need no memory of earlier ticks."""
        spec = self.lookup(tick.symbol)
        if spec is None:
            return rejection(RejectReason.UNKNOWN_SYMBOL, tick.symbol)
        if not spec.active:
            return rejection(RejectReason.INACTIVE_SYMBOL, tick.symbol)
        if not tick.price.is_finite() or tick.price <= 0:
            return rejection(RejectReason.BAD_PRICE, str(tick.price))
        if not tick.size.is_finite() or tick.size < 0:
            return rejection(RejectReason.BAD_SIZE, str(tick.size))
        if live:
            delay = tick.ts_recv - tick.ts_event
            if self.max_delay_ns is not None and delay > self.max_delay_ns:
                return rejection(RejectReason.STALE, f"{delay / NS_PER_S:.1f}s old")
            if -delay > self.future_ns:
                return rejection(RejectReason.FUTURE, f"{-delay / NS_PER_S:.1f}s ahead")
        return None

    def check(self, tick: Tick, *, live: bool = True) -> Rejection | None:
        """Validate a tick; on acceptance remember it (its time and trade id)."""
        problem = self.check_static(tick, live=live)
        if problem is None:
            problem = self._check_sequence(tick)
        if problem is not None:
            self.rejected[problem.reason.value] += 1
            return problem
        self.accepted += 1
        return None

    def _check_sequence(self, tick: Tick) -> Rejection | None:
        last = self._last_ts.get(tick.symbol)
        if last is not None and tick.ts_event < last - self.reorder_ns:
            behind = (last - tick.ts_event) / NS_PER_S
            return rejection(RejectReason.OUT_OF_ORDER, f"{behind:.3f}s behind")
        if tick.trade_id is not None:
            seen = self._seen.setdefault(tick.symbol, OrderedDict())
            key = f"{tick.source}:{tick.trade_id}"
            if key in seen:
                return rejection(RejectReason.DUPLICATE, tick.trade_id)
            seen[key] = None
            if len(seen) > self.dedup_window:
                seen.popitem(last=False)
        if last is None or tick.ts_event > last:
            self._last_ts[tick.symbol] = tick.ts_event
        return None
