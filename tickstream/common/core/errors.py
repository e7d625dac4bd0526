"""The one coded error every app raises (pure): a refusal a client can act on.

`code` is stable and machine-readable (`insufficient_funds`), `message` says it in words,
`field` names the input at fault, `details` carries what else helps, and `status` is the
HTTP status it is answered with. The API edge (`common/api.py`) turns one into
`{"error": {"code", "message", "details"}}`, the websocket into an `error` frame with the
same code: an app raises, and never translates.
"""

from __future__ import annotations

from typing import Any


class CodedError(Exception):
    """A change or request refused, with the code, words and field that say why."""

    status: int = 400

    def __init__(
        self,
        code: str,
        message: str,
        *,
        field: str | None = None,
        details: Any = None,
        status: int | None = None,
    ) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.field = field
        self.details = details
        if status is not None:
            self.status = status

    def details_with_field(self) -> Any:
        """`details`, with `field` added to it when one is named."""
        if self.field is None:
            return self.details
        return {**(self.details or {}), "field": self.field}

    def body(self) -> dict[str, Any]:
        """The error as the API and the websocket print it."""
        out: dict[str, Any] = {"code": self.code, "message": self.message}
        details = self.details_with_field()
        if details is not None:
            out["details"] = details
        return out
