from django.urls import path

from tickstream.trading import api

urlpatterns = [
    path("trading/account/", api.AccountView.as_view(), name="api-trading-account"),
    path("trading/account/reset/", api.AccountResetView.as_view(), name="api-trading-reset"),
    path("trading/deposits/", api.DepositView.as_view(), name="api-trading-deposits"),
    path("trading/withdrawals/", api.WithdrawalView.as_view(), name="api-trading-withdrawals"),
    path("trading/orders/", api.OrderListView.as_view(), name="api-trading-orders"),
    path("trading/orders/<int:order_id>/", api.OrderDetailView.as_view(), name="api-trading-order"),
    path("trading/fills/", api.FillListView.as_view(), name="api-trading-fills"),
]
