from django.urls import path

from tickstream.alerts import api

urlpatterns = [
    path("watchlists/", api.WatchlistListView.as_view(), name="api-watchlists"),
    path("watchlists/<int:watchlist_id>/", api.WatchlistDetailView.as_view(), name="api-watchlist"),
    path("alerts/", api.AlertListView.as_view(), name="api-alerts"),
    path("alerts/<int:alert_id>/", api.AlertDetailView.as_view(), name="api-alert"),
]
