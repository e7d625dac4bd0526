import asyncio
import signal
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tickstream import eventloop
from tickstream.market.runtime import build_runtime


class Command(BaseCommand):
    help = (
        "Run the feeds and the market pipeline as their own process (FEEDS_MODE=external), "
        "answering HTTP ingest from the web processes over the channel layer."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--feeds", help="feed specs, overriding the FEEDS setting")
        parser.add_argument(
            "--no-ingest",
            action="store_true",
            help="do not serve ingest requests from web processes",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL and not options["no_ingest"]:
            self.stderr.write(
                "note: without REDIS_URL the channel layer is in-memory, so "
                "web processes cannot reach this process"
            )
        try:
            eventloop.run(self._run(options))
        except ValueError as exc:
            raise CommandError(str(exc)) from exc

    async def _run(self, options: dict[str, Any]) -> None:
        runtime = await build_runtime(
            feeds_text=options["feeds"], listen_ingest=not options["no_ingest"]
        )
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await runtime.start()
        feeds = ", ".join(f.describe() for f in runtime.feeds)
        self.stdout.write(f"feeds running: {feeds} (event loop: {type(loop).__module__})")
        await stop.wait()
        await runtime.stop()
        self.stdout.write(f"stopped: {runtime.pipeline.stats()}")
