"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest


def market(request: HttpRequest) -> dict[str, Any]:
    """Context processor: whether the demo account exists (development mode) and whether
    anyone may sign up (settings only: no query per page)."""
    return {"demo_hint": settings.DEVELOPMENT, "signup_enabled": settings.SIGNUP_ENABLED}
