"""Checks every tick passes before it may change market state."""

from __future__ import annotations

from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum

from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.ticks import NS_PER_S, Tick

# The bounds of every number that may enter the market state (docs/configuration.md,
# "Limits of a tick"). They keep every derived value computable and every stored value
# exact: the store keeps 10 decimals, SQLite 15 significant digits, and the indicators read
# prices as floats, which hold 15 significant digits exactly.
_ZERO = Decimal(0)
MAX_PRICE = Decimal(10) ** 12  # exclusive
MAX_SIZE = Decimal(10) ** 15  # exclusive (a daily bar's volume replays as four trades)
MAX_DECIMALS = 10
MAX_DIGITS = 15
# Times a tick may carry: 1900-01-01 up to 2200-01-01 (UTC), exclusive.
MIN_TS = -2_208_988_800 * NS_PER_S
MAX_TS = 7_258_118_400 * NS_PER_S
MAX_TRADE_ID = 64


def precision(value: Decimal) -> tuple[int, int]:
    """(significant digits, decimal places) of a finite decimal, ignoring trailing zeros."""
    _, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {value}")
    # Strip trailing zeros without normalize() (which rounds to the context's precision).
    n = len(digits)
    while n > 1 and digits[n - 1] == 0:
        n -= 1
        exponent += 1
    if n == 1 and digits[0] == 0:
        return 1, 0
    return n, max(0, -exponent)


def _fits(digits: int, places: int) -> bool:
    return digits <= MAX_DIGITS and places <= MAX_DECIMALS


def _plainly_fits(value: Decimal) -> bool:
    """True when the text of a finite decimal alone shows it within MAX_DIGITS and
    MAX_DECIMALS (`230.15`: every digit counted, trailing zeros too); False means "look
    closer" (`precision`). A tick's numbers nearly always pass here, at a third the cost."""
    text = str(value)
    length = len(text)
    if "E" in text:
        return False
    dot = text.find(".")
    if dot < 0:
        return length <= MAX_DIGITS
    return length <= MAX_DIGITS + 1 and length - dot - 1 <= MAX_DECIMALS


class RejectReason(StrEnum):
    UNKNOWN_SYMBOL = "unknown_symbol"
    INACTIVE_SYMBOL = "inactive_symbol"
    BAD_PRICE = "bad_price"
    PRICE_OUT_OF_RANGE = "price_out_of_range"
    PRICE_TOO_PRECISE = "price_too_precise"
    BAD_SIZE = "bad_size"
    SIZE_OUT_OF_RANGE = "size_out_of_range"
    SIZE_TOO_PRECISE = "size_too_precise"
    BAD_TIME = "bad_time"
    BAD_TRADE_ID = "bad_trade_id"
    STALE = "stale"
    FUTURE = "future_timestamp"
    OUT_OF_ORDER = "out_of_order"
    DUPLICATE = "duplicate"
    INTERNAL_ERROR = "internal_error"


_MESSAGES = {
    RejectReason.UNKNOWN_SYMBOL: "no instrument with this symbol",
    RejectReason.INACTIVE_SYMBOL: "the instrument is not active",
    RejectReason.BAD_PRICE: "price must be a finite number greater than zero",
    RejectReason.PRICE_OUT_OF_RANGE: f"price must be below {MAX_PRICE:,}",
    RejectReason.PRICE_TOO_PRECISE: (
        f"price may have at most {MAX_DECIMALS} decimals and {MAX_DIGITS} significant digits"
    ),
    RejectReason.BAD_SIZE: "size must be a finite number of zero or more",
    RejectReason.SIZE_OUT_OF_RANGE: f"size must be below {MAX_SIZE:,}",
    RejectReason.SIZE_TOO_PRECISE: (
        f"size may have at most {MAX_DECIMALS} decimals and {MAX_DIGITS} significant digits"
    ),
    RejectReason.BAD_TIME: "the tick's time must lie between 1900 and 2200",
    RejectReason.BAD_TRADE_ID: (
        f"trade_id must be 1-{MAX_TRADE_ID} printable characters without control characters"
    ),
    RejectReason.STALE: "the tick is older than the allowed delay",
    RejectReason.FUTURE: "the tick's time lies in the future",
    RejectReason.OUT_OF_ORDER: "the tick is older than the last one beyond the reorder tolerance",
    RejectReason.DUPLICATE: "a tick with this trade id was already accepted",
    RejectReason.INTERNAL_ERROR: "the tick could not be processed and was dropped (logged)",
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
        # Per symbol, the (source, trade id) of its latest accepted ticks, oldest first.
        self._seen: dict[str, OrderedDict[tuple[str, str], None]] = {}

    def check_static(self, tick: Tick, *, live: bool = True) -> Rejection | None:
        """Checks that need no memory of earlier ticks."""
        spec = self.lookup(tick.symbol)
        if spec is None:
            return rejection(RejectReason.UNKNOWN_SYMBOL, tick.symbol)
        if not spec.active:
            return rejection(RejectReason.INACTIVE_SYMBOL, tick.symbol)
        price, size = tick.price, tick.size
        if not (  # the usual tick, cleared at once; anything else is looked at closely
            type(price) is Decimal
            and type(size) is Decimal
            and price.is_finite()
            and size.is_finite()
            and _ZERO < price < MAX_PRICE
            and _ZERO <= size < MAX_SIZE
            and _plainly_fits(price)
            and _plainly_fits(size)
        ):
            problem = check_price(price) or check_size(size)
            if problem is not None:
                return problem
        if not MIN_TS <= tick.ts_event < MAX_TS:
            return rejection(RejectReason.BAD_TIME)
        trade_id = tick.trade_id
        if trade_id is not None and (
            not 0 < len(trade_id) <= MAX_TRADE_ID or not trade_id.isprintable()
        ):
            return rejection(RejectReason.BAD_TRADE_ID)
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
            seen = self._seen.get(tick.symbol)
            if seen is None:
                seen = self._seen[tick.symbol] = OrderedDict()
            key = (tick.source, tick.trade_id)
            if key in seen:
                return rejection(RejectReason.DUPLICATE, tick.trade_id)
            seen[key] = None
            if len(seen) > self.dedup_window:
                seen.popitem(last=False)
        if last is None or tick.ts_event > last:
            self._last_ts[tick.symbol] = tick.ts_event
        return None


def _shown(value: Decimal) -> str:
    """A number for an error message, cut short (it may have thousands of digits)."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def check_price(value: Decimal) -> Rejection | None:
    """Why a price cannot enter the market, or None."""
    return _check_number(value, price=True)


def require_prices(*prices: Decimal | None) -> None:
    """Raise ValueError with the reason of the first price no tick could carry (None is
    skipped): for values read back from files and the database."""
    for price in prices:
        if price is not None and (problem := check_price(price)) is not None:
            raise ValueError(problem.message)


def check_size(value: Decimal) -> Rejection | None:
    """Why a size cannot enter the market, or None."""
    return _check_number(value, price=False)


def _check_number(value: Decimal, *, price: bool) -> Rejection | None:
    """Price (> 0) or size (>= 0): finite, within its bound, at most MAX_DECIMALS decimals and
    MAX_DIGITS significant digits."""
    if not isinstance(value, Decimal) or not value.is_finite():
        return rejection(RejectReason.BAD_PRICE if price else RejectReason.BAD_SIZE, _shown(value))
    if (value <= 0) if price else (value < 0):
        return rejection(RejectReason.BAD_PRICE if price else RejectReason.BAD_SIZE, _shown(value))
    if value >= (MAX_PRICE if price else MAX_SIZE):
        reason = RejectReason.PRICE_OUT_OF_RANGE if price else RejectReason.SIZE_OUT_OF_RANGE
        return rejection(reason, _shown(value))
    if not _plainly_fits(value) and not _fits(*precision(value)):
        reason = RejectReason.PRICE_TOO_PRECISE if price else RejectReason.SIZE_TOO_PRECISE
        return rejection(reason, _shown(value))
    return None
