from django.apps import AppConfig


class AlertsConfig(AppConfig):
    name = "tickstream.alerts"
    label = "alerts"
    verbose_name = "Watchlists and alerts"

    def ready(self) -> None:
        """Evaluate alerts where ticks are processed (a hook the pipeline calls) and serve
        the owner's `alerts` channel."""
        from tickstream.alerts.channels import register_alerts_channel
        from tickstream.alerts.hook import AlertHook
        from tickstream.market.hooks import register_tick_hook

        register_tick_hook(AlertHook(), replace=True)
        register_alerts_channel()
