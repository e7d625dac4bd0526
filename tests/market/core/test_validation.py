"""Bad input from any feed is rejected with a reason, counted, and changes nothing."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.market.core.analytics.indicators import parse_indicators
from tickstream.market.core.analytics.intervals import STANDARD_INTERVALS
from tickstream.market.core.engine import MarketEngine, TickUpdate
from tickstream.market.core.instruments import InstrumentKind, InstrumentSpec
from tickstream.market.core.messages import quote_dict
from tickstream.market.core.ticks import NS_PER_S, Tick
from tickstream.market.core.validation import (
    MAX_DECIMALS,
    MAX_DIGITS,
    Rejection,
    _plainly_fits,
    precision,
)

D = Decimal
T0 = 1_700_000_000 * NS_PER_S


def _engine() -> MarketEngine:
    specs = [
        InstrumentSpec("AAPL", "Apple", InstrumentKind.STOCK),
        InstrumentSpec("OLD", "Delisted", InstrumentKind.STOCK, active=False),
    ]
    return MarketEngine(
        specs,
        STANDARD_INTERVALS,
        parse_indicators("sma:3,rsi:2"),
        max_delay_s=60,
        reorder_tolerance_s=2,
    )


def tick(
    price: str = "100",
    size: str = "1",
    ts: int = T0,
    recv: int | None = None,
    symbol: str = "AAPL",
    trade_id: str | None = None,
) -> Tick:
    return Tick(symbol, D(price), D(size), ts, ts if recv is None else recv, "test", trade_id)


def _fingerprint(engine: MarketEngine) -> object:
    state = engine.states["AAPL"]
    return (
        quote_dict(state.quote),
        engine.seq["AAPL"],
        [(s.interval.name, s.builder.forming) for s in state.series],
    )


BAD = [
    (tick(symbol="MSFT"), "unknown_symbol"),
    (tick(symbol="OLD"), "inactive_symbol"),
    (tick(price="0"), "bad_price"),
    (tick(price="-1"), "bad_price"),
    (tick(price="NaN"), "bad_price"),
    (tick(price="sNaN"), "bad_price"),
    (tick(price="Infinity"), "bad_price"),
    (tick(size="-1"), "bad_size"),
    (tick(size="NaN"), "bad_size"),
    # The bounds of a tick (docs/configuration.md): what once poisoned the market.
    (tick(size="1e400"), "size_out_of_range"),
    (tick(size="1e15"), "size_out_of_range"),
    (tick(size="0.00000000001"), "size_too_precise"),
    (tick(size="1234567890.123456"), "size_too_precise"),
    (tick(price="1e400"), "price_out_of_range"),
    (tick(price="1000000000000"), "price_out_of_range"),
    (tick(price="1e-30"), "price_too_precise"),
    (tick(price="1" * 100_000), "price_out_of_range"),
    (tick(price="0." + "1" * 100_000), "price_too_precise"),
    (tick(price="100.00000000001"), "price_too_precise"),
    (tick(price="1234567890.123456"), "price_too_precise"),
    (tick(ts=-3_000_000_000 * NS_PER_S), "bad_time"),
    (tick(ts=8_000_000_000 * NS_PER_S), "bad_time"),
    (tick(trade_id=""), "bad_trade_id"),
    (tick(trade_id="x" * 65), "bad_trade_id"),
    (tick(trade_id="nul\x00byte"), "bad_trade_id"),
    (tick(ts=T0 + 5 * NS_PER_S, recv=T0 + 200 * NS_PER_S), "stale"),
    (tick(ts=T0 + 60 * NS_PER_S, recv=T0 + 5 * NS_PER_S), "future_timestamp"),
    (tick(ts=T0 - 3 * NS_PER_S, recv=T0 + NS_PER_S), "out_of_order"),
    (tick(trade_id="t-1", ts=T0 + NS_PER_S), "duplicate"),
]


@pytest.mark.parametrize(("bad", "reason"), BAD, ids=[r for _, r in BAD])
def test_bad_tick_is_rejected_counted_and_changes_nothing(bad: Tick, reason: str) -> None:
    engine = _engine()
    assert isinstance(engine.process(tick(trade_id="t-1")), TickUpdate)
    before = _fingerprint(engine)
    result = engine.process(bad)
    assert isinstance(result, Rejection)
    assert result.reason.value == reason
    assert result.message
    assert engine.validator.rejected == {reason: 1}
    assert _fingerprint(engine) == before
    # ...and the feed goes on: the next good tick is taken normally.
    after = engine.process(tick(price="101", ts=T0 + 2 * NS_PER_S, trade_id="t-2"))
    assert isinstance(after, TickUpdate) and after.seq == 2


@pytest.mark.parametrize(
    "value",
    ["0.0000000001", "999999999999.99", "12345.6789012345", "0.0000123456", "67250.12000000"],
)
def test_prices_at_the_bounds_are_taken_exactly(value: str) -> None:
    engine = _engine()
    result = engine.process(tick(price=value, size=value))
    assert isinstance(result, TickUpdate), result
    assert result.state.quote.last == D(value) and result.state.quote.volume == D(value)
    shown = quote_dict(result.state.quote)  # every derived value can be shown
    assert D(shown["last"]) == D(value) and "E" not in shown["last"] + shown["volume"]


def test_extreme_moves_within_the_bounds_keep_every_derived_value_computable() -> None:
    engine = _engine()
    prices = ["0.0000000001", "999999999999.99", "0.0000000001", "500000000000"]
    for i, price in enumerate(prices):
        result = engine.process(
            tick(price=price, size="999999999999999", ts=T0 + i * 61 * NS_PER_S)
        )
        assert isinstance(result, TickUpdate), result
        quote = quote_dict(result.state.quote)
        assert quote["last"] == price and quote["change_pct"] is not None
        for series in result.state.series:
            series.provisional()


def test_late_tick_within_tolerance_counts_in_the_current_candle() -> None:
    engine = _engine()
    engine.process(tick(ts=T0 + 61 * NS_PER_S))
    late = engine.process(tick(price="99", ts=T0 + 60 * NS_PER_S - NS_PER_S))
    assert isinstance(late, TickUpdate)
    minute = late.state.series_for("1m")
    assert minute is not None and minute.builder.forming is not None
    assert minute.builder.forming.trades == 2  # not a new candle back in time
    assert minute.builder.forming.low == D("99")


def test_duplicate_memory_is_bounded() -> None:
    engine = _engine()
    engine.validator.dedup_window = 100
    for i in range(1000):
        assert isinstance(engine.process(tick(ts=T0 + i, trade_id=str(i))), TickUpdate)
    assert len(engine.validator._seen["AAPL"]) == 100
    assert isinstance(engine.process(tick(ts=T0 + 2000, trade_id="999")), Rejection)


def test_replays_are_not_checked_for_staleness() -> None:
    engine = _engine()
    old = tick(ts=T0 - 10 * 365 * 86_400 * NS_PER_S, recv=T0)
    assert isinstance(engine.process(old, live=False), TickUpdate)
    assert isinstance(engine.process(old, live=True), Rejection)


def test_sequence_numbers_are_per_symbol_and_gapless() -> None:
    engine = MarketEngine(
        [
            InstrumentSpec("A", "A", InstrumentKind.STOCK),
            InstrumentSpec("B", "B", InstrumentKind.CRYPTO),
        ],
        [],
        [],
    )
    seqs = []
    for i, sym in enumerate("AABAB"):
        result = engine.process(tick(symbol=sym, ts=T0 + i))
        assert isinstance(result, TickUpdate)
        seqs.append((sym, result.seq))
    assert seqs == [("A", 1), ("A", 2), ("B", 1), ("A", 3), ("B", 2)]


@settings(max_examples=400, deadline=None)
@given(
    st.one_of(
        st.decimals(allow_nan=False, allow_infinity=False),
        st.builds(
            lambda digits, exponent: Decimal(f"{digits}E{exponent}"),
            st.integers(0, 10**20),
            st.integers(-14, 6),
        ),
    )
)
def test_the_quick_look_at_a_numbers_text_agrees_with_its_exact_precision(value: Decimal) -> None:
    # A number the quick look passes must be within bounds by the exact count; one it does
    # not pass is decided by the exact count alone.
    digits, places = precision(value)
    exact = digits <= MAX_DIGITS and places <= MAX_DECIMALS
    if _plainly_fits(value):
        assert exact, value
    text = str(value)
    if exact and value >= 0 and "E" not in text and not text.endswith("0"):
        # A number a tick may carry (not negative), written without an exponent or
        # trailing zeros: the quick look counts exactly.
        assert _plainly_fits(value), value
