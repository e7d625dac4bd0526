from django.contrib import admin

from tickstream.market.models import Candle, Instrument, Quote, Trade


@admin.register(Instrument)
class InstrumentAdmin(admin.ModelAdmin):
    list_display = (
        "symbol",
        "name",
        "kind",
        "quote_currency",
        "tick_size",
        "quantity_step",
        "active",
    )
    list_filter = ("kind", "active", "quote_currency")
    search_fields = ("symbol", "name")
    list_editable = ("active",)


@admin.register(Candle)
class CandleAdmin(admin.ModelAdmin):
    list_display = (
        "instrument",
        "interval",
        "start",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "closed",
    )
    list_filter = ("interval", "closed", "instrument__kind")
    search_fields = ("instrument__symbol",)
    date_hierarchy = "start"
    list_select_related = ("instrument",)


@admin.register(Quote)
class QuoteAdmin(admin.ModelAdmin):
    list_display = ("instrument", "last", "open", "high", "low", "volume", "time")
    search_fields = ("instrument__symbol",)
    list_select_related = ("instrument",)


@admin.register(Trade)
class TradeAdmin(admin.ModelAdmin):
    list_display = ("instrument", "price", "size", "ts_event", "source", "trade_id")
    list_filter = ("source",)
    search_fields = ("instrument__symbol", "trade_id")
    list_select_related = ("instrument",)
