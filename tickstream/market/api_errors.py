"""One translation of errors into JSON at the API edge: `{"error": {"code", "message"}}`."""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

log = logging.getLogger(__name__)


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
    elif isinstance(exc, RequestDataTooBig):
        exc = body_too_large()
    elif isinstance(exc, DatabaseError):
        exc = database_unavailable(exc)
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


def database_unavailable(exc: Exception) -> ApiError:
    """The database cannot be reached or failed: nothing was changed, try again later."""
    log.warning("database error at the API: %s: %s", type(exc).__name__, exc)
    return ApiError(
        "database_unavailable",
        "the database is not available now; nothing was changed, try again shortly",
        status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def not_found(code: str, message: str, **kwargs: Any) -> ApiError:
    return ApiError(code, message, status_code=status.HTTP_404_NOT_FOUND, **kwargs)


def body_too_large() -> ApiError:
    return ApiError(
        "body_too_large",
        f"the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
        status_code=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
    )


def _json_error(status_code: int, code: str, message: str) -> JsonResponse:
    return JsonResponse({"error": {"code": code, "message": message}}, status=status_code)


def _is_api(request: HttpRequest) -> bool:
    return request.path.startswith("/api/")


# Django's own error views, for errors raised outside DRF's views: JSON under /api/,
# Django's pages elsewhere.
def bad_request(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.bad_request(request, exception)  # type: ignore[arg-type]
    if isinstance(exception, RequestDataTooBig):
        error = body_too_large()
        return _json_error(error.status_code, error.error_code, str(error.detail))
    return _json_error(400, "bad_request", "the request could not be read")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)  # type: ignore[arg-type]
    return _json_error(404, "not_found", f"no API endpoint at {request.path}")


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    return _json_error(500, "server_error", "the server failed on this request (logged)")
