"""One translation of errors into JSON at the API edge: `{"error": {"code", "message"}}`."""

from __future__ import annotations

from typing import Any

from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler


class ApiError(exceptions.APIException):
    """An error with a stable machine-readable code."""

    def __init__(
        self, code: str, message: str, *, status_code: int = 400, details: Any = None
    ) -> None:
        super().__init__(message, code)
        self.status_code = status_code
        self.error_code = code
        self.details = details


_CODES: list[tuple[type[Exception], str]] = [
    (exceptions.ParseError, "malformed_body"),
    (exceptions.NotAuthenticated, "not_authenticated"),
    (exceptions.AuthenticationFailed, "authentication_failed"),
    (exceptions.PermissionDenied, "permission_denied"),
    (exceptions.NotFound, "not_found"),
    (exceptions.MethodNotAllowed, "method_not_allowed"),
    (exceptions.NotAcceptable, "not_acceptable"),
    (exceptions.UnsupportedMediaType, "unsupported_media_type"),
    (exceptions.Throttled, "throttled"),
    (exceptions.ValidationError, "invalid"),
]


def exception_handler(exc: Exception, context: dict[str, Any]) -> Response | None:
    """DRF's handler, reshaped so every error body carries a code and a message."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound()
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, ApiError):
        body: dict[str, Any] = {"code": exc.error_code, "message": str(exc.detail)}
        if exc.details is not None:
            body["details"] = exc.details
    elif isinstance(exc, exceptions.ValidationError):
        body = {
            "code": "invalid",
            "message": "the request has invalid fields",
            "details": exc.detail,
        }
    else:
        code = next((c for cls, c in _CODES if isinstance(exc, cls)), "error")
        detail = getattr(exc, "detail", str(exc))
        body = {"code": code, "message": str(detail)}
    response.data = {"error": body}
    return response


def not_found(code: str, message: str, **kwargs: Any) -> ApiError:
    return ApiError(code, message, status_code=status.HTTP_404_NOT_FOUND, **kwargs)
