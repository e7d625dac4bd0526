from django.urls import path

from tickstream.portfolio import api

urlpatterns = [
    path("portfolios/", api.PortfolioListView.as_view(), name="api-portfolios"),
    path("portfolios/<int:portfolio_id>/", api.PortfolioDetailView.as_view(), name="api-portfolio"),
    path(
        "portfolios/<int:portfolio_id>/transactions/",
        api.TransactionListView.as_view(),
        name="api-transactions",
    ),
    path(
        "portfolios/<int:portfolio_id>/transactions/<int:transaction_id>/",
        api.TransactionDetailView.as_view(),
        name="api-transaction",
    ),
    path(
        "portfolios/<int:portfolio_id>/valuation/",
        api.ValuationView.as_view(),
        name="api-valuation",
    ),
    path("portfolios/<int:portfolio_id>/returns/", api.ReturnsView.as_view(), name="api-returns"),
    path("portfolios/<int:portfolio_id>/history/", api.HistoryView.as_view(), name="api-history"),
    path("portfolios/<int:portfolio_id>/import/", api.ImportView.as_view(), name="api-import"),
    path("portfolios/<int:portfolio_id>/export/", api.ExportView.as_view(), name="api-export"),
    path("portfolios/<int:portfolio_id>/income/", api.IncomeView.as_view(), name="api-income"),
    path("portfolios/<int:portfolio_id>/tax-lots/", api.TaxLotsView.as_view(), name="api-tax-lots"),
    path(
        "portfolios/<int:portfolio_id>/tax-lots/csv/",
        api.TaxLotsCsvView.as_view(),
        name="api-tax-lots-csv",
    ),
]
