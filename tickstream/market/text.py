"""One rule for every text that crosses the edge: no control characters.

A NUL cannot be stored in PostgreSQL's text at all (it answered a fake 503 outage), and
the other C0 and C1 controls have no place in a name, a symbol, a note or a password.
They are refused before any view runs:

- in a JSON body, every string (keys too), by `DecimalJSONParser`: `bad_text` with the
  field's path, except the fields that carry a whole file (`csv`), where line ends are
  the format (a NUL is refused there too). Pushed ticks are checked one by one: a
  control character refuses its tick (`malformed_tick`), not the batch;
- in a query string or a form body, by `ControlCharacterMiddleware`: a 400 (`bad_text`
  as JSON under /api/);
- in a websocket frame, by the protocol's parser: an `error` frame with `bad_text`.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import unquote_plus

from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, JsonResponse

from tickstream.common.core.edge import CONTROL

FORMS = ("application/x-www-form-urlencoded", "multipart/form-data")


def _form_text(request: HttpRequest) -> str:
    """The query string, decoded, and the fields of a form body (not its files)."""
    parts = [unquote_plus(request.META.get("QUERY_STRING", ""), errors="replace")]
    if request.method == "POST" and request.content_type in FORMS:
        for key, values in request.POST.lists():
            parts += [key, *values]
    return "&".join(parts)


class ControlCharacterMiddleware:
    """Refuse a request whose query string or form body holds a control character."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if CONTROL.search(_form_text(request)):
            message = "control characters are not allowed in a query or a form"
            if request.path.startswith("/api/"):
                body = {"error": {"code": "bad_text", "message": message}}
                return JsonResponse(body, status=400)
            return HttpResponseBadRequest(message)
        return self.get_response(request)
