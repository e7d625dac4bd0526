"""Pages: server-rendered shells whose live parts are small ES modules on the stream."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.shortcuts import render
from django.views.generic import TemplateView

from tickstream.market.selectors import instrument_specs


class MarketPage(TemplateView):
    """A page whose scripts follow the market: it carries the active instruments (symbol,
    name, kind, currency, tick size) for them, read once per page view."""

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
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
        }


class DashboardView(MarketPage):
    """`/`: watchlist, live candle chart with indicators, symbol search."""

    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "intervals": settings.MARKET_INTERVALS,
            "default_symbol": settings.STREAM_DEFAULT_STOCK,
        }


class TickerView(MarketPage):
    """`/ticker/`: the scrolling tape of every symbol (tutorial 001's page, on `ws/ticker/`)."""

    template_name = "web/ticker.html"


class StocksView(MarketPage):
    """`/stocks/`: one stock's symbol, price and change (tutorial 002's page, `ws/stocks/`)."""

    template_name = "web/stocks.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "default": settings.STREAM_DEFAULT_STOCK}


class TradingView(MarketPage):
    """`/trading/`: the latest crypto price (tutorial 003's page, `ws/cryptocurrency/`)."""

    template_name = "web/trading.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "default": settings.STREAM_DEFAULT_CRYPTO}


def login_locked(request: HttpRequest, credentials: Any = None, *args: Any, **kwargs: Any) -> Any:
    """What a login gets after too many failures for its account or its address (429)."""
    minutes = settings.AXES_COOLOFF_TIME.total_seconds() / 60
    message = (
        f"Too many failed logins for this account or from this address. "
        f"Try again in {minutes:g} minutes."
    )
    if request.path.startswith("/api/"):
        return JsonResponse({"error": {"code": "throttled", "message": message}}, status=429)
    return render(request, "registration/locked_out.html", {"message": message}, status=429)
