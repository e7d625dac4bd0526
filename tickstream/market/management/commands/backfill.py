import asyncio
import time
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from tickstream.market.backfill import store_candles
from tickstream.market.core.analytics.intervals import Interval, IntervalError, parse_interval
from tickstream.market.core.formats import parse_time
from tickstream.market.feeds.base import Feed
from tickstream.market.feeds.registry import build_feeds
from tickstream.market.feeds.spec import FeedConfigError
from tickstream.market.selectors import instrument_specs


class Command(BaseCommand):
    help = (
        "Store a symbol's past candles from the venue of its live feed (an exchange or "
        "Alpaca, in FEEDS or --feeds): `backfill BTC-USD --since 2026-01-01 --interval 1m`."
    )

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("symbol", help="the instrument, e.g. BTC-USD")
        parser.add_argument("--since", required=True, help="ISO 8601 date or time (UTC)")
        parser.add_argument("--until", help="ISO 8601 date or time (default: now)")
        parser.add_argument("--interval", default="1m", help="the venue's candle size")
        parser.add_argument("--feeds", help="feed specs naming the venue, instead of FEEDS")

    def handle(self, *args: Any, **options: Any) -> None:
        symbol = options["symbol"].strip().upper()
        try:
            interval = parse_interval(options["interval"])
            since_ms = parse_time(options["since"]) // 1_000_000
            until_ms = (
                parse_time(options["until"]) // 1_000_000
                if options["until"]
                else time.time_ns() // 1_000_000
            )
            feeds = build_feeds(options["feeds"] or settings.FEEDS, instrument_specs())
        except (ValueError, IntervalError, FeedConfigError) as exc:
            raise CommandError(str(exc)) from None
        if since_ms >= until_ms:
            raise CommandError("--since must be before --until")
        venue = next(
            (f for f in feeds if symbol in f.symbols() and f.serves_candles),
            None,
        )
        if venue is None:
            raise CommandError(
                f"no exchange or alpaca feed prices {symbol}: configure one in FEEDS or pass "
                '--feeds "exchange venue=... symbols=... map=..."'
            )
        self.stdout.write(f"{symbol}: {interval.name} candles from {venue.describe()}")
        rows = asyncio.run(self._fetch(venue, symbol, interval, since_ms, until_ms))
        intervals = [parse_interval(i) for i in settings.MARKET_INTERVALS]
        written = store_candles(
            rows, intervals, since_ms=since_ms, until_ms=until_ms, until_now=not options["until"]
        )
        self.stdout.write(f"\n{symbol}: {len(rows)} candles fetched, {written} rows stored")

    async def _fetch(
        self, feed: Feed, symbol: str, interval: Interval, since_ms: int, until_ms: int
    ) -> Any:
        try:
            return await feed.candles(symbol, interval, since_ms, until_ms, self._progress)
        except Exception as exc:
            raise CommandError(f"{feed.describe()}: {type(exc).__name__}: {exc}") from None

    def _progress(self, count: int, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total) if total else width
        bar = "#" * filled + " " * (width - filled)
        self.stdout.write(
            f"\r[{bar}] {100 * done // max(total, 1):3d}%  {count} candles", ending=""
        )
        self.stdout.flush()
