"""The edge's parsers (pure): every value that crosses the edge (API bodies and queries,
websocket frames, files, feed frames) is read by these, in every app.

- Decimals: one grammar (`parse_decimal`). A decimal is ASCII text: an optional leading
  `-`, one or more digits, at most one point with digits on both sides, and an optional
  exponent (`e` or `E`, an optional sign, digits): `100`, `-0.5`, `1.25e-7`. Nothing else
  is a number, however Python's `Decimal` reads it: no spaces or line ends around it, no
  `_` between digits, no `+` in front, no digits of other scripts (`١٠٠`, `１００`), no
  `NaN` or `Infinity`, no `.5` or `5.`. A JSON number, parsed exactly, is accepted as it
  is (its grammar is this one). The text is bounded (MAX_TEXT characters) before it is
  read, so a number costs O(MAX_TEXT) at most. Whether a sign, zero or a size is allowed
  is each field's range check (`amount`), after this.
- Text: no control characters anywhere (`refuse_control`; tickstream/market/text.py says
  where the web edge applies it); a field's text is text or absent (`text`).
- Times: ISO 8601, aware, from 1900 up to now (`when`).
- Ids: a positive integer of at most 18 digits (`bounded_id`), as the websocket's channel
  names take them.

A field that cannot be taken raises `FieldError` (a `CodedError`) naming the field.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time
from decimal import Decimal
from typing import Any

from tickstream.common.core.errors import CodedError

PLACES = 10  # the store's decimals
MAX_AMOUNT = Decimal(10) ** 15  # quantities and cash amounts
MAX_PRICE = Decimal(10) ** 12  # prices and fees (the market's bound on a price)
MAX_ID = 10**18  # ids are below this (18 digits)
EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)

# --- decimals ---

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


# --- text ---

CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
NUL = re.compile(r"\x00")
FILE_FIELDS = frozenset({"csv"})  # a whole file: its line ends are its format


class ControlCharacter(ValueError):
    """A text with a control character; `field` names where."""

    def __init__(self, field: str) -> None:
        super().__init__(f"{field or 'a text'}: control characters are not allowed")
        self.field = field


def refuse_control(value: Any, field: str = "") -> None:
    """Raise ControlCharacter at the first string of a parsed JSON value that holds one."""
    if isinstance(value, str):
        rule = NUL if field.rsplit(".", 1)[-1] in FILE_FIELDS else CONTROL
        if rule.search(value):
            raise ControlCharacter(field)
    elif isinstance(value, dict):
        for key, item in value.items():
            path = f"{field}.{key}" if field else str(key)
            if isinstance(key, str) and CONTROL.search(key):
                raise ControlCharacter(path)
            refuse_control(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            refuse_control(item, f"{field}[{index}]")


# --- fields of a body ---


class FieldError(CodedError):
    """One field that cannot be taken; `code` and `field` say which and why."""

    field: str

    def __init__(self, field: str, code: str, message: str) -> None:
        super().__init__(code, message, field=field)


def amount(
    field: str,
    value: Any,
    *,
    required: bool = True,
    positive: bool = False,
    bound: Decimal = MAX_AMOUNT,
) -> Decimal:
    """A decimal of the one grammar (`parse_decimal`: text or an exact JSON
    number, never a float): >= 0 (> 0 with `positive`), below `bound`, at most ten
    decimals. Missing or blank is `required` (a form's empty field)."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise FieldError(field, "required", f"{field} is required")
        return Decimal(0)
    try:
        number = parse_decimal(value)
    except NumberError as exc:
        raise FieldError(field, "bad_number", f"{field}: {exc}") from None
    if number < 0 or (positive and number == 0):
        least = "above zero" if positive else "zero or more"
        raise FieldError(field, "out_of_range", f"{field} must be {least}")
    if number >= bound:
        raise FieldError(field, "out_of_range", f"{field} must be below {bound:,.0f}")
    exponent = number.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -PLACES:
        raise FieldError(field, "too_precise", f"{field} has more than {PLACES} decimals")
    return number


def when(field: str, value: Any, now: datetime) -> datetime:
    """An ISO 8601 time (a date alone is midnight UTC; no offset means UTC), from 1900 up
    to `now`: a transaction cannot be in the future."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime.combine(value, time(0), UTC)
    elif isinstance(value, str) and 0 < len(value.strip()) <= MAX_TEXT:
        text = value.strip()
        try:
            moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            raise FieldError(field, "bad_time", f"{field} is not an ISO 8601 time") from None
    else:
        raise FieldError(field, "bad_time", f"{field} must be an ISO 8601 time")
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    moment = moment.astimezone(UTC)
    if moment < EARLIEST:
        raise FieldError(field, "bad_time", f"{field} is before 1900")
    if moment > now:
        raise FieldError(field, "future_time", f"{field} is in the future")
    return moment


def text(data: dict[str, Any], field: str) -> str:
    """A text field: absent or null is empty; anything but a string is refused."""
    value = data.get(field)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise FieldError(field, f"bad_{field}", f"{field} must be text")
    return value


def bounded_id(field: str, value: Any) -> int:
    """A positive integer id (a JSON integer or its digits), below MAX_ID."""
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) <= 18:
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value < MAX_ID:
        raise FieldError(field, "bad_id", f"{field} must be a positive integer id")
    return value
