"""Template context shared by every page."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest

from tickstream.market.selectors import instrument_specs


def market(request: HttpRequest) -> dict[str, Any]:
    """Context processor: the active instruments (for the pages' scripts) and whether the
    demo account exists (development mode)."""
    return {
        "instruments": [
            {
                "symbol": s.symbol,
                "name": s.name,
                "kind": s.kind.value,
                "currency": s.quote_currency,
                "tick_size": str(s.tick_size),
            }
            for s in instrument_specs(active_only=True)
        ],
        "demo_hint": settings.DEVELOPMENT,
    }
