from django.contrib import admin

from tickstream.trading.models import Balance, Fill, Order, TradingAccount, Transfer


class BalanceInline(admin.TabularInline):  # type: ignore[type-arg]
    model = Balance
    extra = 0
    readonly_fields = ["currency", "available", "reserved", "fees"]
    can_delete = False


@admin.register(TradingAccount)
class TradingAccountAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["owner", "portfolio", "created_at"]
    inlines = [BalanceInline]


@admin.register(Order)
class OrderAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """Read only: balances and orders change through the venue's services alone."""

    list_display = ["id", "account", "instrument", "side", "type", "quantity", "price", "status"]
    list_filter = ["status", "type", "side"]
    search_fields = ["client_order_id", "account__owner__username"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Fill)
class FillAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["id", "order", "price", "quantity", "fee", "liquidity", "time"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False


@admin.register(Transfer)
class TransferAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    list_display = ["account", "currency", "amount", "time"]

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_add_permission(self, request):  # type: ignore[no-untyped-def]
        return False
