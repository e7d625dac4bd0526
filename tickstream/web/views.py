"""Pages: server-rendered shells whose live parts are small ES modules on the stream."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.views.generic import TemplateView


class DashboardView(TemplateView):
    """`/`: watchlist, live candle chart with indicators, symbol search."""

    template_name = "web/dashboard.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {
            **super().get_context_data(**kwargs),
            "intervals": settings.MARKET_INTERVALS,
            "default_symbol": settings.STREAM_DEFAULT_STOCK,
        }


class TickerView(TemplateView):
    """`/ticker/`: the scrolling tape of every symbol (tutorial 001's page, on `ws/ticker/`)."""

    template_name = "web/ticker.html"


class StocksView(TemplateView):
    """`/stocks/`: one stock's symbol, price and change (tutorial 002's page, `ws/stocks/`)."""

    template_name = "web/stocks.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "default": settings.STREAM_DEFAULT_STOCK}


class TradingView(TemplateView):
    """`/trading/`: the latest crypto price (tutorial 003's page, `ws/cryptocurrency/`)."""

    template_name = "web/trading.html"

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        return {**super().get_context_data(**kwargs), "default": settings.STREAM_DEFAULT_CRYPTO}
