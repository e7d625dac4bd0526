from django.urls import path

from tickstream.strategy import api

urlpatterns = [
    path("strategies/sources/", api.SourceListView.as_view(), name="api-strategy-sources"),
    path("strategies/runs/", api.RunListView.as_view(), name="api-strategy-runs"),
    path("strategies/runs/<int:run_id>/", api.RunDetailView.as_view(), name="api-strategy-run"),
    path(
        "strategies/runs/<int:run_id>/fills.csv",
        api.RunFillsCsvView.as_view(),
        name="api-strategy-run-fills",
    ),
    path("strategies/hosted/", api.HostedListView.as_view(), name="api-strategy-hosted"),
    path(
        "strategies/hosted/<int:hosted_id>/",
        api.HostedDetailView.as_view(),
        name="api-strategy-hosted-one",
    ),
    path(
        "strategies/hosted/<int:hosted_id>/start/",
        api.HostedStartView.as_view(),
        name="api-strategy-hosted-start",
    ),
    path(
        "strategies/hosted/<int:hosted_id>/stop/",
        api.HostedStopView.as_view(),
        name="api-strategy-hosted-stop",
    ),
]
