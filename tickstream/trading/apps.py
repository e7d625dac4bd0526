from django.apps import AppConfig


class TradingConfig(AppConfig):
    name = "tickstream.trading"
    label = "trading"
    verbose_name = "Paper trading"

    def ready(self) -> None:
        """Match orders where ticks are processed (a hook the pipeline calls), serve the
        owner's `orders` channel, and take orders over the websocket."""
        from tickstream.market.hooks import register_tick_hook
        from tickstream.trading.channels import register_orders_channel
        from tickstream.trading.hook import MatchingHook

        register_tick_hook(MatchingHook(), replace=True)
        register_orders_channel()
