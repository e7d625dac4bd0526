"""No control characters in any text that crosses the edge (pure): the one rule the API's
JSON parser, the form and query check and the websocket protocol share
(tickstream/market/text.py says where each applies it)."""

from __future__ import annotations

import re
from typing import Any

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
