"""Incremental technical indicators, O(1) per bar, agreeing with TA-Lib.

Each indicator folds closed bars with `update` and can `peek` at the value it would have
if a forming bar closed now, without changing its state. Outputs are tuples of floats, or
None before the indicator's warm-up (TA-Lib's lookback) is over.
"""

from __future__ import annotations

import math
import re
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Final, Protocol

Outputs = tuple[float | None, ...]


@dataclass(slots=True)
class Bar:
    """A bar as the indicators see it: floats, with the bucket start (ns) for sessions.

    Read-only (`Final` fields, which the type checker enforces) rather than frozen: every
    message with analysis makes six, and a frozen dataclass costs 2.5 times as much."""

    start: Final[int]
    open: Final[float]
    high: Final[float]
    low: Final[float]
    close: Final[float]
    volume: Final[float]


class Indicator(Protocol):
    names: tuple[str, ...]

    def update(self, bar: Bar) -> Outputs:
        """Fold a closed bar in and return the outputs at it."""
        ...

    def peek(self, bar: Bar) -> Outputs:
        """Return the outputs if `bar` closed now, leaving the state unchanged."""
        ...


class IndicatorSpecError(ValueError):
    """An indicator spec such as `sma:abc` that cannot be understood."""


def _fmt(value: float) -> str:
    return f"{value:g}"


class _Window:
    """Sum over the last n values, refreshed exactly every n steps so it cannot drift."""

    __slots__ = ("n", "values", "total", "_since_refresh")

    def __init__(self, n: int) -> None:
        self.n = n
        self.values: deque[float] = deque(maxlen=n)
        self.total = 0.0
        self._since_refresh = 0

    @property
    def full(self) -> bool:
        return len(self.values) == self.n

    def push(self, x: float) -> None:
        if len(self.values) == self.n:
            self.total -= self.values[0]
        self.values.append(x)
        self.total += x
        self._since_refresh += 1
        if self._since_refresh >= self.n:
            self.total = math.fsum(self.values)
            self._since_refresh = 0

    def total_with(self, x: float) -> float | None:
        """The sum if `x` were pushed, or None if the window would still not be full."""
        count = len(self.values)
        if count < self.n - 1:
            return None
        if count == self.n:
            return self.total - self.values[0] + x
        return self.total + x


class SMA:
    __slots__ = ("period", "names", "_w")
    names: tuple[str, ...]

    def __init__(self, period: int) -> None:
        self.period = period
        self.names = (f"sma_{period}",)
        self._w = _Window(period)

    def update(self, bar: Bar) -> Outputs:
        self._w.push(bar.close)
        return (self._w.total / self.period if self._w.full else None,)

    def peek(self, bar: Bar) -> Outputs:
        total = self._w.total_with(bar.close)
        return (None if total is None else total / self.period,)


class _Ema:
    """EMA seeded with the SMA of its first `period` inputs (TA-Lib's default)."""

    __slots__ = ("period", "k", "value", "_seed")

    def __init__(self, period: int) -> None:
        self.period = period
        self.k = 2.0 / (period + 1)
        self.value: float | None = None
        self._seed: list[float] = []

    def seed_with(self, values: Sequence[float]) -> None:
        self.value = math.fsum(values) / len(values)
        self._seed = []

    def update(self, x: float) -> float | None:
        if self.value is not None:
            self.value = (x - self.value) * self.k + self.value
            return self.value
        self._seed.append(x)
        if len(self._seed) == self.period:
            self.seed_with(self._seed)
        return self.value

    def peek(self, x: float) -> float | None:
        if self.value is not None:
            return (x - self.value) * self.k + self.value
        if len(self._seed) == self.period - 1:
            return math.fsum([*self._seed, x]) / self.period
        return None


class EMA:
    __slots__ = ("names", "_ema")
    names: tuple[str, ...]

    def __init__(self, period: int) -> None:
        self.names = (f"ema_{period}",)
        self._ema = _Ema(period)

    def update(self, bar: Bar) -> Outputs:
        return (self._ema.update(bar.close),)

    def peek(self, bar: Bar) -> Outputs:
        return (self._ema.peek(bar.close),)


class WMA:
    """Linearly weighted moving average (newest weight n, oldest 1)."""

    __slots__ = ("period", "names", "_w", "_numerator", "_divisor")
    names: tuple[str, ...]

    def __init__(self, period: int) -> None:
        self.period = period
        self.names = (f"wma_{period}",)
        self._w = _Window(period)
        self._numerator = 0.0
        self._divisor = period * (period + 1) / 2

    def _next_numerator(self, x: float) -> float:
        count = len(self._w.values)
        if count < self.period:
            return self._numerator + (count + 1) * x
        return self._numerator - self._w.total + self.period * x

    def update(self, bar: Bar) -> Outputs:
        self._numerator = self._next_numerator(bar.close)
        self._w.push(bar.close)
        if self._w._since_refresh == 0:  # the window was just re-summed: refresh ours too
            self._numerator = math.fsum(i * v for i, v in enumerate(self._w.values, 1))
        return (self._numerator / self._divisor if self._w.full else None,)

    def peek(self, bar: Bar) -> Outputs:
        if len(self._w.values) < self.period - 1:
            return (None,)
        return (self._next_numerator(bar.close) / self._divisor,)


class RSI:
    """Wilder's RSI; the first value averages the first `period` changes (TA-Lib)."""

    __slots__ = ("period", "names", "_prev", "_gain", "_loss", "_count")
    names: tuple[str, ...]

    def __init__(self, period: int) -> None:
        self.period = period
        self.names = (f"rsi_{period}",)
        self._prev: float | None = None
        self._gain = 0.0
        self._loss = 0.0
        self._count = 0  # changes seen

    def _step(self, close: float) -> tuple[float, float, int, float | None]:
        if self._prev is None:
            return self._gain, self._loss, 0, None
        change = close - self._prev
        up = change if change > 0 else 0.0
        down = -change if change < 0 else 0.0
        n = self.period
        count = self._count + 1
        if count < n:
            return self._gain + up, self._loss + down, count, None
        if count == n:
            gain, loss = (self._gain + up) / n, (self._loss + down) / n
        else:
            gain = (self._gain * (n - 1) + up) / n
            loss = (self._loss * (n - 1) + down) / n
        total = gain + loss
        return gain, loss, count, (100.0 * gain / total if total != 0.0 else 0.0)

    def update(self, bar: Bar) -> Outputs:
        self._gain, self._loss, self._count, value = self._step(bar.close)
        self._prev = bar.close
        return (value,)

    def peek(self, bar: Bar) -> Outputs:
        return (self._step(bar.close)[3],)


class MACD:
    """MACD line, signal and histogram as TA-Lib computes them.

    TA-Lib seeds the fast EMA at the bar where the slow one starts, with the SMA of the last
    `fast` closes there, and reports all three outputs from the signal's first value on.
    """

    __slots__ = ("fast", "slow", "names", "_fast", "_slow", "_signal", "_recent", "_bars")
    names: tuple[str, ...]

    def __init__(self, fast: int, slow: int, signal: int) -> None:
        if slow < fast:
            fast, slow = slow, fast
        self.fast, self.slow = fast, slow
        suffix = f"{fast}_{slow}_{signal}"
        self.names = (f"macd_{suffix}", f"macd_signal_{suffix}", f"macd_hist_{suffix}")
        self._fast = _Ema(fast)
        self._slow = _Ema(slow)
        self._signal = _Ema(signal)
        self._recent: deque[float] = deque(maxlen=fast)
        self._bars = 0

    def update(self, bar: Bar) -> Outputs:
        x = bar.close
        self._bars += 1
        slow = self._slow.update(x)
        if slow is None:
            self._recent.append(x)
            return (None, None, None)
        if self._fast.value is None:
            self._recent.append(x)
            self._fast.seed_with(self._recent)
            self._recent.clear()
            fast = self._fast.value
        else:
            fast = self._fast.update(x)
        if fast is None:  # cannot happen once seeded; keeps the types honest
            return (None, None, None)
        line = fast - slow
        signal = self._signal.update(line)
        return (None, None, None) if signal is None else (line, signal, line - signal)

    def peek(self, bar: Bar) -> Outputs:
        x = bar.close
        slow = self._slow.peek(x)
        if slow is None:
            return (None, None, None)
        if self._fast.value is None:
            fast = math.fsum([*list(self._recent)[1 - self.fast :], x]) / self.fast
            if len(self._recent) < self.fast - 1:
                return (None, None, None)
        else:
            fast = (x - self._fast.value) * self._fast.k + self._fast.value
        line = fast - slow
        signal = self._signal.peek(line)
        return (None, None, None) if signal is None else (line, signal, line - signal)


class BollingerBands:
    """SMA middle band and bands at `k` population standard deviations.

    The variance comes from sums of deviations from a shift that is re-centred on the mean
    whenever the window is re-summed exactly, so it stays accurate when the deviation is
    tiny next to the price (the plain sum of squares loses most of its digits there).
    """

    __slots__ = ("period", "k", "names", "_values", "_shift", "_s1", "_s2", "_since_refresh")
    names: tuple[str, ...]

    def __init__(self, period: int, k: float) -> None:
        self.period = period
        self.k = k
        suffix = f"{period}_{_fmt(k)}"
        self.names = (f"bb_mid_{suffix}", f"bb_upper_{suffix}", f"bb_lower_{suffix}")
        self._values: deque[float] = deque(maxlen=period)
        self._shift = 0.0
        self._s1 = 0.0
        self._s2 = 0.0
        self._since_refresh = 0

    def _sums_with(self, x: float) -> tuple[float, float]:
        s1, s2 = self._s1, self._s2
        if len(self._values) == self.period:
            d = self._values[0] - self._shift
            s1, s2 = s1 - d, s2 - d * d
        d = x - self._shift
        return s1 + d, s2 + d * d

    def _bands(self, s1: float, s2: float) -> Outputs:
        n = self.period
        offset = s1 / n
        variance = s2 / n - offset * offset
        mean = self._shift + offset
        sigma = math.sqrt(variance) if variance > 0.0 else 0.0
        return (mean, mean + self.k * sigma, mean - self.k * sigma)

    def update(self, bar: Bar) -> Outputs:
        x = bar.close
        if not self._values:
            self._shift = x
        self._s1, self._s2 = self._sums_with(x)
        self._values.append(x)
        self._since_refresh += 1
        if self._since_refresh >= self.period:
            self._since_refresh = 0
            self._shift = math.fsum(self._values) / len(self._values)
            self._s1 = math.fsum(v - self._shift for v in self._values)
            self._s2 = math.fsum((v - self._shift) ** 2 for v in self._values)
        if len(self._values) < self.period:
            return (None, None, None)
        return self._bands(self._s1, self._s2)

    def peek(self, bar: Bar) -> Outputs:
        if len(self._values) < self.period - 1:
            return (None, None, None)
        if not self._values:  # a period of 1: the bands are the price itself
            return (bar.close, bar.close, bar.close)
        return self._bands(*self._sums_with(bar.close))


class ATR:
    """Wilder's average true range; the first value averages the first `period` ranges."""

    __slots__ = ("period", "names", "_prev_close", "_sum", "_count", "_value")
    names: tuple[str, ...]

    def __init__(self, period: int) -> None:
        self.period = period
        self.names = (f"atr_{period}",)
        self._prev_close: float | None = None
        self._sum = 0.0
        self._count = 0
        self._value: float | None = None

    def _step(self, bar: Bar) -> tuple[float, int, float | None]:
        if self._prev_close is None:
            return 0.0, 0, None
        pc = self._prev_close
        tr = max(bar.high - bar.low, abs(bar.high - pc), abs(bar.low - pc))
        n = self.period
        if self._value is not None:
            return self._sum, self._count, (self._value * (n - 1) + tr) / n
        total, count = self._sum + tr, self._count + 1
        return total, count, (total / n if count == n else None)

    def update(self, bar: Bar) -> Outputs:
        self._sum, self._count, self._value = self._step(bar)
        self._prev_close = bar.close
        return (self._value,)

    def peek(self, bar: Bar) -> Outputs:
        return (self._step(bar)[2],)


_DAY_NS = 86_400 * 1_000_000_000


class SessionVWAP:
    """Volume-weighted average of the typical price (H+L+C)/3, reset each UTC day."""

    __slots__ = ("names", "_day", "_pv", "_v")
    names: tuple[str, ...]

    def __init__(self) -> None:
        self.names = ("vwap",)
        self._day = -1
        self._pv = 0.0
        self._v = 0.0

    def _step(self, bar: Bar) -> tuple[int, float, float]:
        day = bar.start // _DAY_NS
        pv, v = (self._pv, self._v) if day == self._day else (0.0, 0.0)
        typical = (bar.high + bar.low + bar.close) / 3.0
        return day, pv + typical * bar.volume, v + bar.volume

    def update(self, bar: Bar) -> Outputs:
        self._day, self._pv, self._v = self._step(bar)
        return (self._pv / self._v if self._v > 0 else None,)

    def peek(self, bar: Bar) -> Outputs:
        _, pv, v = self._step(bar)
        return (pv / v if v > 0 else None,)


@dataclass(frozen=True, slots=True)
class IndicatorSpec:
    """A parsed spec such as `macd:12:26:9`; `build()` makes a fresh indicator."""

    text: str
    factory: Callable[[], Indicator]
    names: tuple[str, ...]

    def build(self) -> Indicator:
        return self.factory()


def _int(value: str, spec: str) -> int:
    if not re.fullmatch(r"[1-9][0-9]{0,3}", value):
        raise IndicatorSpecError(f"{spec!r}: period {value!r} must be a whole number 1-9999")
    return int(value)


def _num(value: str, spec: str) -> float:
    try:
        number = float(value)
    except ValueError:
        raise IndicatorSpecError(f"{spec!r}: {value!r} is not a number") from None
    if not math.isfinite(number) or number <= 0:
        raise IndicatorSpecError(f"{spec!r}: {value!r} must be a positive number")
    return number


def parse_indicator(text: str) -> IndicatorSpec:
    """Parse one spec: sma:N ema:N wma:N rsi:N atr:N macd:F:S:SIG bbands:N:K vwap."""
    spec = text.strip().lower()
    name, *args = spec.split(":")
    factory: Callable[[], Indicator]
    arity = {"sma": 1, "ema": 1, "wma": 1, "rsi": 1, "atr": 1, "macd": 3, "bbands": 2, "vwap": 0}
    if name not in arity:
        raise IndicatorSpecError(f"unknown indicator {text!r}: use one of {', '.join(arity)}")
    defaults = {"macd": ["12", "26", "9"], "bbands": ["20", "2"], "rsi": ["14"], "atr": ["14"]}
    if not args and name in defaults:
        args = defaults[name]
    if name == "bbands" and len(args) == 1:
        args = [args[0], "2"]
    if len(args) != arity[name]:
        raise IndicatorSpecError(f"{text!r}: {name} takes {arity[name]} parameter(s)")
    if name == "macd":
        f, s, g = (_int(a, text) for a in args)
        factory = lambda: MACD(f, s, g)  # noqa: E731
    elif name == "bbands":
        p, k = _int(args[0], text), _num(args[1], text)
        factory = lambda: BollingerBands(p, k)  # noqa: E731
    elif name == "vwap":
        factory = SessionVWAP
    else:
        n = _int(args[0], text)
        if name in ("rsi", "atr") and n < 2:
            raise IndicatorSpecError(f"{text!r}: {name} needs a period of at least 2")
        single: dict[str, Callable[[int], Indicator]] = {
            "sma": SMA,
            "ema": EMA,
            "wma": WMA,
            "rsi": RSI,
            "atr": ATR,
        }
        cls = single[name]
        factory = lambda: cls(n)  # noqa: E731
    return IndicatorSpec(spec, factory, factory().names)


def parse_indicators(text: str) -> tuple[IndicatorSpec, ...]:
    """Parse a comma-separated list of specs; duplicate outputs are an error."""
    specs = tuple(parse_indicator(part) for part in text.split(",") if part.strip())
    names = [n for s in specs for n in s.names]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise IndicatorSpecError(f"indicators listed twice: {', '.join(duplicates)}")
    return specs
