"""The API edge every app shares: one translation of errors into JSON
(`{"error": {"code", "message", "details"}}`), the JSON parser that reads numbers exactly
and refuses control characters, the documented error bodies, and the base of the views
that serve a signed-in user's own objects.

An app's services raise `CodedError`s (`common/core/errors.py`) and its views let them
through: the handler here answers each with its status, code, message and field.
"""

from __future__ import annotations

import json
import logging
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views import defaults
from drf_spectacular.utils import OpenApiResponse, extend_schema_field
from rest_framework import exceptions, permissions, serializers, status
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView, set_rollback
from rest_framework.views import exception_handler as drf_exception_handler

from tickstream.common.core.edge import ControlCharacter, refuse_control
from tickstream.common.core.errors import CodedError

log = logging.getLogger(__name__)


class ApiError(CodedError):
    """A refusal made at the edge itself (a bad query, a missing object)."""


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
    if isinstance(exc, CodedError):  # an app's refusal, raised as it is
        set_rollback()  # as DRF does for its own errors (a request in one transaction)
        return Response({"error": exc.body()}, status=exc.status)
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
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
        status=status.HTTP_503_SERVICE_UNAVAILABLE,
    )


def not_found(code: str, message: str, **kwargs: Any) -> ApiError:
    return ApiError(code, message, status=status.HTTP_404_NOT_FOUND, **kwargs)


def body_too_large() -> ApiError:
    return ApiError(
        "body_too_large",
        f"the body is larger than {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes",
        status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
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
        return _json_error(error.status, error.code, error.message)
    return _json_error(400, "bad_request", "the request could not be read")


def page_not_found(request: HttpRequest, exception: Exception | None = None) -> HttpResponse:
    if not _is_api(request):
        return defaults.page_not_found(request, exception)  # type: ignore[arg-type]
    return _json_error(404, "not_found", f"no API endpoint at {request.path}")


def server_error(request: HttpRequest) -> HttpResponse:
    if not _is_api(request):
        return defaults.server_error(request)
    return _json_error(500, "server_error", "the server failed on this request (logged)")


# --- documented error bodies ---


class ErrorBodySerializer(serializers.Serializer[Any]):
    code = serializers.CharField(help_text="stable machine-readable code, e.g. `bad_interval`")
    message = serializers.CharField()
    details = serializers.JSONField(required=False)


class ErrorSerializer(serializers.Serializer[Any]):
    error = ErrorBodySerializer()


def documented_errors(*statuses: int) -> dict[int, Any]:
    """The documented error responses of an endpoint (every one has the same body)."""
    described = {
        400: "bad request: a parameter or the body is invalid (see `code`)",
        401: "no or invalid credentials",
        403: "the account may not do this",
        404: "not found: an unknown symbol, or an object that is not yours",
        409: "conflicts with the object's state: an order that has ended, too many open",
        413: "the body or the batch is too large",
        415: "the body is not JSON",
        422: "no tick was accepted",
        429: "throttled",
        503: "unavailable: no market pipeline or matching engine answered",
    }
    return {
        code: OpenApiResponse(ErrorSerializer, description=described[code]) for code in statuses
    }


# --- request bodies ---


class DecimalJSONParser(JSONParser):
    """JSON with numbers read as Decimal: prices never pass through a float; no string
    with a control character (`bad_text`, tickstream/market/text.py)."""

    refuses_control = True

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            data = json.load(stream, parse_float=Decimal, parse_int=Decimal)
        except RecursionError:
            raise ParseError("JSON parse error - the body is nested too deeply") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
        try:
            if self.refuses_control:
                refuse_control(data)
        except ControlCharacter as exc:
            raise ApiError("bad_text", str(exc), details={"field": exc.field}) from None
        return data


class BatchJSONParser(DecimalJSONParser):
    """A batch whose items are checked one by one (pushed ticks): a control character
    refuses its item only, as any other fault of that item does."""

    refuses_control = False


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "decimal"}, {"type": "number"}],
        "example": "231.17",
    }
)
class NumberField(serializers.Field):  # type: ignore[type-arg]
    """A decimal given as a string or a JSON number (documentation of the tick fields)."""


def json_body(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object."""
    if not isinstance(request.data, dict):
        raise ApiError("malformed_body", "the body must be a JSON object")
    return request.data


class OwnerOnly(APIView):
    """A view of the signed-in user's own objects: another user's are answered as absent
    (404), never as forbidden, so an id says nothing of whether it exists."""

    permission_classes = [permissions.IsAuthenticated]
    parser_classes = [DecimalJSONParser]
