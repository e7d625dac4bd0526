"""Exchange feeds through ccxt against recorded real venue traffic, replayed on 127.0.0.1.

For each venue ccxt can read from its capture: every recorded trade becomes exactly one
tick with the recorded price, size, id and time; a connection dropped mid-capture
reconnects and yields no duplicate; unreadable frames are counted and skipped.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from tests.market.feeds.support import collect_ticks
from tests.market.feeds.venue_replay import GARBAGE, VENUES, ReplayServer, Venue, markets_loader
from tickstream.market.core.instruments import DEFAULT_UNIVERSE
from tickstream.market.core.ticks import Tick
from tickstream.market.feeds.base import FeedFailed, supervise
from tickstream.market.feeds.exchange import ExchangeFeed, default_symbol
from tickstream.market.feeds.registry import build_feeds
from tickstream.market.feeds.spec import FeedConfigError

pytestmark = pytest.mark.timeout(60)


def _feed(venue: Venue, server: ReplayServer, **kwargs: Any) -> ExchangeFeed:
    return ExchangeFeed(
        venue.name,
        {symbol: default_symbol(symbol) for symbol in venue.markets.values()},
        ws_url=server.url,
        markets=markets_loader(venue),
        **kwargs,
    )


async def _run(feed: ExchangeFeed, want: int, *, timeout: float = 15.0) -> list[Tick]:
    """Run the feed until it has emitted `want` ticks (and a moment more, to catch any
    extra), then stop it."""
    return await collect_ticks(
        lambda emit: supervise(feed, emit), want, timeout=timeout, linger=0.5
    )


def _as_recorded(venue: Venue, tick: Tick) -> tuple[str, Decimal, Decimal, str | None, int]:
    market = {default_symbol(s): m for m, s in venue.markets.items()}[tick.symbol]
    return (market.lower(), tick.price, tick.size, tick.trade_id, tick.ts_event)


def _recorded(venue: Venue) -> list[tuple[str, Decimal, Decimal, str | None, int]]:
    return [
        (t.market.lower(), t.price, t.size, t.trade_id, t.ts_ms * 1_000_000)
        for t in venue.recorded_trades()
    ]


@pytest.mark.parametrize("name", sorted(VENUES))
async def test_every_recorded_trade_becomes_exactly_one_tick(name: str) -> None:
    venue = VENUES[name]
    expected = _recorded(venue)
    assert expected, "the capture holds trades"
    async with ReplayServer(venue) as server:
        feed = _feed(venue, server)
        ticks = await _run(feed, len(expected))
    assert sorted(_as_recorded(venue, t) for t in ticks) == sorted(expected)
    # Each symbol's trades in the venue's order, stamped with the venue and read time.
    for market in {e[0] for e in expected}:
        assert [e for e in map(lambda t: _as_recorded(venue, t), ticks) if e[0] == market] == [
            e for e in expected if e[0] == market
        ]
    assert {t.source for t in ticks} == {name}
    assert all(t.ts_recv > t.ts_event for t in ticks)
    health = feed.health.as_dict()
    assert health["messages"] >= len({e[0] for e in expected})
    assert health["errors"] == {} and health["reconnects"] == 0


@pytest.mark.parametrize("name", ["coinbaseexchange", "okx", "binanceus"])
async def test_a_connection_dropped_mid_capture_reconnects_and_repeats_nothing(name: str) -> None:
    venue = VENUES[name]
    expected = _recorded(venue)
    frames = len(venue.frames())
    # The venue repeats the 3 frames before the drop when ccxt subscribes again.
    async with ReplayServer(venue, drop_after=frames // 2, overlap=3) as server:
        feed = _feed(venue, server)
        ticks = await _run(feed, len(expected))
    assert server.connections >= 2
    assert sorted(_as_recorded(venue, t) for t in ticks) == sorted(expected)
    assert len({t.trade_id for t in ticks}) == len(ticks)
    health = feed.health.as_dict()
    assert health["reconnects"] >= 1 and health["errors"]["disconnected"] >= 1
    assert health["errors"].get("duplicate", 0) >= 1  # what was repeated, dropped


def _corrupt_trade(venue: Venue) -> str:
    """A recorded trade frame whose price is not a number (and whose id is new)."""
    _, _, text = venue.frames()[0]
    frame = json.loads(text)
    if venue.name == "coinbaseexchange":
        frame.update(price="12..5", trade_id=999_999_999)
        return json.dumps(frame)
    frame["data"].update(p="not-a-price", a=999_999_999)  # binance's aggTrade
    return json.dumps(frame["data"])


@pytest.mark.parametrize("name", ["coinbaseexchange", "binanceus"])
async def test_malformed_frames_are_counted_and_skipped(name: str) -> None:
    venue = VENUES[name]
    expected = _recorded(venue)
    async with ReplayServer(venue, garbage=[*GARBAGE, _corrupt_trade(venue)]) as server:
        feed = _feed(venue, server)
        ticks = await _run(feed, len(expected))
    assert sorted(_as_recorded(venue, t) for t in ticks) == sorted(expected)
    errors = feed.health.as_dict()["errors"]
    # Not JSON (the text, the truncated object): counted by the feed. The trade whose
    # price is no number: ccxt's Binance reader raises on it (counted as a message), its
    # Coinbase reader hands it on and the feed refuses it. JSON of no known shape: the
    # Binance reader raises on the list (counted); both pass over the unknown object.
    assert (
        errors
        == {
            "coinbaseexchange": {"malformed_message": 2, "malformed_trade": 1},
            "binanceus": {"malformed_message": 4},
        }[name]
    )
    assert feed.health.reconnects == 0  # none of it broke the connection


async def test_a_symbol_the_venue_does_not_list_stops_the_feed_with_the_reason() -> None:
    venue = VENUES["okx"]
    async with ReplayServer(venue) as server:
        feed = ExchangeFeed(
            "okx", {"DOGE/EUR": "DOGE-EUR"}, ws_url=server.url, markets=markets_loader(venue)
        )
        with pytest.raises(FeedFailed, match="okx has no market DOGE/EUR"):
            await feed.run(lambda tick: None)


async def test_a_silent_connection_is_closed_and_reconnected() -> None:
    venue = VENUES["bitstamp"]
    async with ReplayServer(venue) as server:
        feed = _feed(venue, server, silence_s=1.0)
        ticks = await _run(feed, 10**6, timeout=4.0)  # the capture ends; the server stays
    assert len(ticks) == len(_recorded(venue))  # the repeats after reconnecting dropped
    assert server.connections >= 2
    assert feed.health.errors["silent"] >= 1


def test_feeds_setting_builds_exchange_feeds_and_refuses_unknown_instruments() -> None:
    specs = list(DEFAULT_UNIVERSE)
    (feed,) = build_feeds(
        "exchange venue=binance symbols=BTC/USDT,ETH/USDT map=BTC-USD,ETH-USD silence=20",
        specs,
    )
    assert isinstance(feed, ExchangeFeed)
    assert feed.mapping == {"BTC/USDT": "BTC-USD", "ETH/USDT": "ETH-USD"}
    assert feed.silence_s == 20 and feed.health.symbols == ["BTC-USD", "ETH-USD"]
    (kraken,) = build_feeds("exchange venue=kraken symbols=BTC/USD", specs)
    assert isinstance(kraken, ExchangeFeed) and kraken.mapping == {"BTC/USD": "BTC-USD"}
    assert (feed.backfill_days, kraken.backfill_days) == (2, 2)  # days of past candles
    (off,) = build_feeds("exchange venue=kraken symbols=BTC/USD backfill=0", specs)
    assert off.backfill_days == 0
    for text, problem in [
        ("exchange venue=binance symbols=BTC/USDT", "no active instrument BTC-USDT"),
        ("exchange venue=nosuchvenue symbols=BTC/USD", "ccxt has no websocket exchange"),
        ("exchange symbols=BTC/USD", "exchange needs venue="),
        ("exchange venue=kraken", "exchange needs symbols="),
        ("exchange venue=kraken symbols=BTC/USD,ETH/USD map=BTC-USD", "map names 1"),
        ("exchange venue=kraken symbols=BTC/USD speed=2", "unknown option"),
        ("exchange venue=kraken symbols=BTC/USD backfill=inf", "backfill must be a finite"),
        ("exchange venue=kraken symbols=BTC/USD backfill=-1", "backfill must be a finite"),
        ("exchange venue=kraken symbols=BTC/USD backfill=400", "backfill is at most 31 days"),
        ("alpaca symbols=AAPL backfill=nan", "backfill must be a finite"),
    ]:
        with pytest.raises(FeedConfigError, match=problem):
            build_feeds(text, specs)
