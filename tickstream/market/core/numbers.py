"""The one grammar of a decimal that crosses the edge: amounts, prices, quantities, alert
levels, pushed ticks, files and venue frames are all read by `parse_decimal`.

A decimal is ASCII text: an optional leading `-`, one or more digits, at most one point
with digits on both sides, and an optional exponent (`e` or `E`, an optional sign,
digits): `100`, `-0.5`, `1.25e-7`. Nothing else is a number, however Python's `Decimal`
reads it: no spaces or line ends around it, no `_` between digits, no `+` in front, no
digits of other scripts (`١٠٠`, `１００`), no `NaN` or `Infinity`, no `.5` or `5.`. A JSON
number, parsed exactly, is accepted as it is (its grammar is this one). The text is
bounded (MAX_TEXT characters) before it is read, so a number costs O(MAX_TEXT) at most.
Whether a sign, zero or a size is allowed is each field's range check, after this.
"""

from __future__ import annotations

import re
from decimal import Decimal

MAX_TEXT = 64  # characters of a number's text, checked before it is parsed
GRAMMAR = re.compile(r"-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
GRAMMAR_TEXT = (
    "ASCII digits with an optional leading '-', at most one point with digits on both "
    "sides, and an optional exponent such as e-7"
)


class NumberError(ValueError):
    """Text or a value that is not a decimal of the grammar; the message says why."""


def parse_decimal(value: object, *, floats: bool = False) -> Decimal:
    """`value` as an exact, finite Decimal: text of the grammar, an int, or a Decimal (a
    JSON number parsed exactly). A float only with `floats` (a feed's JSON), through its
    shortest repr; never from a request."""
    if isinstance(value, bool):
        raise NumberError("a boolean is not a number")
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise NumberError(f"{value} is not a finite number")
        return value
    if isinstance(value, int):
        text = str(value) if -(10**MAX_TEXT) < value < 10**MAX_TEXT else "x" * (MAX_TEXT + 1)
    elif isinstance(value, float) and floats:
        text = repr(value)
    elif isinstance(value, str):
        text = value
    else:
        raise NumberError(f"a number must be given as text, not {type(value).__name__}")
    if len(text) > MAX_TEXT:
        raise NumberError(f"a number of {len(text)} characters (at most {MAX_TEXT})")
    if not GRAMMAR.fullmatch(text):
        raise NumberError(f"{text!r} is not a decimal number ({GRAMMAR_TEXT})")
    return Decimal(text)
