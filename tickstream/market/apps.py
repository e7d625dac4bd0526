from django.apps import AppConfig


class MarketConfig(AppConfig):
    name = "tickstream.market"
    label = "market"
    verbose_name = "Market data"
