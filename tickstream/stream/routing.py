"""Websocket routes. The Hub, protocol v1 and the tutorials' endpoints plug in here."""

from django.urls import URLPattern

websocket_urlpatterns: list[URLPattern] = []
