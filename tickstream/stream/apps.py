from django.apps import AppConfig


class StreamConfig(AppConfig):
    name = "tickstream.stream"
    label = "stream"
    verbose_name = "Live streaming"

    def ready(self) -> None:
        """Register the stream's channel kinds and the tutorials' formats, and give the Hubs
        their sources: the market's exact snapshots and its instrument check."""
        from channels.db import database_sync_to_async

        from tickstream.market.gateway import market_snapshot
        from tickstream.market.selectors import instrument_is_active
        from tickstream.stream import events, hub
        from tickstream.stream.channels import register_stream_channels
        from tickstream.stream.compat import register_formats

        register_stream_channels()
        register_formats()
        hub.configure(
            snapshot=market_snapshot,
            symbol_exists=instrument_is_active,
            history=database_sync_to_async(events.history),
            currents=database_sync_to_async(events.currents),
        )
