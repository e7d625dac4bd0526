"""One output writer per concept: a `Shape` names each field an object is sent with, how it
is read from the object and what type it has. `dump` writes it for REST and the websocket
alike; `serializer()` gives the OpenAPI schema the same fields, so the documented shape
cannot drift from the one sent (the Styleguide's output serializers, without DRF's cost on
every order event).

Each app keeps its shapes in its `shapes.py`; selectors, views and publishers import them.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from rest_framework import serializers

Reader = Callable[[Any], Any]


@dataclass(frozen=True, slots=True)
class Out:
    """One field: `read` takes it from the object (already in its wire form); `type` is
    how the schema names it: int, text, texts (a list of text), decimal (a string of
    digits), time (ISO 8601), bool, choice (one of `choices`), json, or a list of `items`
    (another shape)."""

    read: Reader
    type: str = "text"
    null: bool = False
    choices: tuple[str, ...] = ()
    items: Shape | None = None
    help: str = ""


class Shape:
    """The fields of one concept as it is sent, in order."""

    def __init__(self, name: str, fields: dict[str, Out]) -> None:
        self.name = name
        self.fields = fields
        self._reads = tuple((key, out.read) for key, out in fields.items())

    def dump(self, obj: Any) -> dict[str, Any]:
        """The object as it is sent. O(fields)."""
        return {key: read(obj) for key, read in self._reads}

    @cached_property
    def serializer(self) -> type[serializers.Serializer[Any]]:
        """A read-only DRF serializer of the same fields, for the schema only."""
        declared = {key: _field(out) for key, out in self.fields.items()}
        return type(self.name + "Serializer", (serializers.Serializer,), declared)


def _field(out: Out) -> serializers.Field:  # type: ignore[type-arg]
    options: dict[str, Any] = {"read_only": True, "allow_null": out.null}
    if out.help:
        options["help_text"] = out.help
    if out.items is not None:
        return out.items.serializer(many=True, read_only=True)
    if out.type == "choice":
        return serializers.ChoiceField(choices=list(out.choices), **options)
    if out.type == "texts":
        return serializers.ListField(child=serializers.CharField(), **options)
    kinds: dict[str, type[serializers.Field]] = {  # type: ignore[type-arg]
        "int": serializers.IntegerField,
        "text": serializers.CharField,
        "decimal": serializers.CharField,
        "time": serializers.DateTimeField,
        "bool": serializers.BooleanField,
        "json": serializers.JSONField,
    }
    return kinds[out.type](**options)
