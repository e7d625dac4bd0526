from django.urls import path

from tickstream.market import api

urlpatterns = [
    path("instruments/", api.InstrumentListView.as_view(), name="api-instruments"),
    path("quotes/", api.QuoteListView.as_view(), name="api-quotes"),
    path("feeds/", api.FeedListView.as_view(), name="api-feeds"),
    path("candles/", api.CandleListView.as_view(), name="api-candles"),
    path("ticks", api.TickIngestView.as_view(), name="api-ticks"),
]
