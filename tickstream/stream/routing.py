"""Websocket routes: protocol v1 and the tutorials' endpoints."""

from django.urls import path, re_path

from tickstream.stream import compat
from tickstream.stream.consumers import StreamConsumer

websocket_urlpatterns = [
    path("ws/v1/", StreamConsumer.as_asgi()),
    path("ws/stock_updates/", compat.StockUpdatesConsumer.as_asgi()),
    path("ws/ticker/", compat.TickerConsumer.as_asgi()),
    re_path(r"^ws/stocks/$", compat.StocksConsumer.as_asgi()),
    path("ws/cryptocurrency/", compat.CryptocurrencyConsumer.as_asgi()),
]
