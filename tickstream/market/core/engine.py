"""The pure heart of the pipeline: validate a tick, then update the market state.

The live pipeline, the `analyze` command and the benchmark all run ticks through this.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from tickstream.market.core.analytics.indicators import IndicatorSpec
from tickstream.market.core.analytics.intervals import Interval
from tickstream.market.core.analytics.state import ClosedCandle, SymbolState
from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.core.ticks import Tick
from tickstream.market.core.validation import Rejection, TickValidator


@dataclass(slots=True)
class TickUpdate:
    """What one accepted tick changed: the symbol's state, its sequence number, closed candles."""

    tick: Tick
    seq: int
    state: SymbolState
    closed: list[ClosedCandle]


class MarketEngine:
    """Validates ticks and keeps the state of every symbol, numbering updates per symbol."""

    def __init__(
        self,
        instruments: Iterable[InstrumentSpec],
        intervals: Sequence[Interval],
        indicators: Sequence[IndicatorSpec],
        *,
        max_delay_s: float | None = 60.0,
        reorder_tolerance_s: float = 2.0,
    ) -> None:
        self.instruments: dict[str, InstrumentSpec] = {}
        self.intervals = tuple(intervals)
        self.indicators = tuple(indicators)
        self.validator = TickValidator(
            self.instruments.get, max_delay_s=max_delay_s, reorder_tolerance_s=reorder_tolerance_s
        )
        self.states: dict[str, SymbolState] = {}
        self.seq: dict[str, int] = {}
        self.set_instruments(instruments)

    def set_instruments(self, instruments: Iterable[InstrumentSpec]) -> None:
        """Replace the known instruments (the validator sees the change at once)."""
        fresh = {spec.symbol: spec for spec in instruments}
        self.instruments.clear()
        self.instruments.update(fresh)

    def state(self, symbol: str) -> SymbolState:
        """The state of a symbol, created on first use."""
        state = self.states.get(symbol)
        if state is None:
            state = SymbolState(symbol, self.intervals, self.indicators)
            self.states[symbol] = state
            self.seq[symbol] = 0
        return state

    def process(self, tick: Tick, *, live: bool = True) -> TickUpdate | Rejection:
        """Validate and apply one tick."""
        problem = self.validator.check(tick, live=live)
        if problem is not None:
            return problem
        state = self.states.get(tick.symbol) or self.state(tick.symbol)
        closed = state.apply(tick.ts_event, tick.price, tick.size)
        state.quote.source = tick.source
        seq = self.seq[tick.symbol] + 1
        self.seq[tick.symbol] = seq
        return TickUpdate(tick, seq, state, closed)

    def finish(self) -> list[tuple[str, ClosedCandle]]:
        """Close all forming candles (end of a finite input)."""
        return [(sym, c) for sym, state in self.states.items() for c in state.finish()]
