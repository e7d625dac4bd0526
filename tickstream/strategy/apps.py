from django.apps import AppConfig


class StrategyConfig(AppConfig):
    name = "tickstream.strategy"
    label = "strategy"
    verbose_name = "Strategies"

    def ready(self) -> None:
        """Run the hosted strategies where ticks are processed (a hook the pipeline's
        process starts and stops)."""
        from tickstream.market.hooks import register_tick_hook
        from tickstream.strategy.host import StrategyHost

        register_tick_hook(StrategyHost(), replace=True)
