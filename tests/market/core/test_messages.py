"""Numbers on the wire: the quick decimal writers agree with `format(value, "f")`."""

from __future__ import annotations

from decimal import Decimal, localcontext

from hypothesis import given, settings
from hypothesis import strategies as st

from tickstream.market.core.messages import decimal_str, fixed, price_text

# Every exponent str() writes with (small and large) and the plain range between.
DECIMALS = st.decimals(allow_nan=False, allow_infinity=False, places=None).filter(
    lambda d: abs(d.adjusted()) < 40
) | st.builds(
    lambda digits, exponent, sign: Decimal((sign, tuple(int(c) for c in digits), exponent)),
    st.text("0123456789", min_size=1, max_size=20),
    st.integers(-30, 30),
    st.integers(0, 1),
)


@settings(max_examples=600, deadline=None)
@given(DECIMALS)
def test_fixed_is_plain_text_at_the_numbers_own_precision(value: Decimal) -> None:
    assert fixed(value) == format(value, "f")
    text = decimal_str(value)
    assert "E" not in text and "e" not in text
    assert Decimal(text) == value


@settings(max_examples=300, deadline=None)
@given(DECIMALS, st.integers(0, 10))
def test_price_text_pads_to_the_instruments_places(value: Decimal, places: int) -> None:
    text = price_text(value, places)
    assert "E" not in text and Decimal(text) == value
    decimals = len(text.partition(".")[2])
    assert decimals >= places


def test_fixed_examples() -> None:
    assert fixed(Decimal("230.10")) == "230.10"
    assert fixed(Decimal("1E-10")) == "0.0000000001"
    assert fixed(Decimal("1E+2")) == "100"
    assert fixed(Decimal("-0")) == "-0"
    with localcontext() as ctx:  # str() writes a small `e` under this context
        ctx.capitals = 0
        assert fixed(Decimal("1E-7")) == "0.0000001"
    assert price_text(Decimal("1E+2"), 2) == "100.00"
    assert decimal_str(Decimal("229.1600000000")) == "229.16"


@settings(max_examples=300, deadline=None)
@given(DECIMALS.filter(lambda d: d > 0), st.integers(0, 10), st.integers(0, 6))
def test_equal_prices_share_one_text(value: Decimal, places: int, zeros: int) -> None:
    """price_text is cached by value: equal prices written with more zeros must not be
    able to give another text."""
    padded = Decimal((0, value.as_tuple().digits + (0,) * zeros, value.as_tuple().exponent - zeros))
    assert padded == value
    uncached = price_text.__wrapped__
    assert uncached(padded, places) == uncached(value, places) == price_text(value, places)
