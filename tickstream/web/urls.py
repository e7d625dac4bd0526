from django.urls import path

from tickstream.web import views

urlpatterns = [
    path("", views.DashboardView.as_view(), name="index"),
    path("ticker/", views.TickerView.as_view(), name="ticker"),
    path("stocks/", views.StocksView.as_view(), name="stocks"),
    path("trading/", views.TradingView.as_view(), name="trading"),
    path("portfolio/", views.PortfolioListView.as_view(), name="portfolio-list"),
    path(
        "portfolio/<int:portfolio_id>/",
        views.PortfolioDetailView.as_view(),
        name="portfolio-detail",
    ),
    path("alerts/", views.AlertsView.as_view(), name="alerts"),
    path("strategies/", views.StrategiesView.as_view(), name="strategies"),
    path("strategies/runs/<int:run_id>/", views.StrategyRunView.as_view(), name="strategy-run"),
]
