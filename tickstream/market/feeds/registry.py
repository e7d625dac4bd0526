"""The feed kinds, and how the FEEDS setting becomes feeds.

FEEDS holds entries separated by `;`, each a kind followed by `key=value` options:
`simulated rate=100 seed=7`, `replay symbol=SPY file=data/spy.csv speed=60` (`speed=max`),
`exchange venue=binance symbols=BTC/USDT,ETH/USDT map=BTC-USD,ETH-USD` (any ccxt venue;
without `map`, `BTC/USDT` prices the instrument `BTC-USDT`), `alpaca symbols=AAPL,MSFT`.
A live feed's `backfill=N` is the days of past candles fetched at start for a symbol with
none stored (exchange 2, alpaca 5; 0 turns it off).

Each kind is a `Feed` subclass that builds itself from its entry (`from_spec`); adding one
is its module and one line below. A module is imported only when FEEDS names its kind
(ccxt takes a second to import).
"""

from __future__ import annotations

import importlib
import shlex
from collections.abc import Mapping, Sequence
from typing import Any

from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.feeds.base import Feed
from tickstream.market.feeds.spec import FeedConfigError, FeedSpec

FEED_KINDS: dict[str, str] = {
    "simulated": "tickstream.market.feeds.simulated:SimulatedFeed",
    "replay": "tickstream.market.feeds.replay:ReplayFeed",
    "exchange": "tickstream.market.feeds.exchange:ExchangeFeed",
    "alpaca": "tickstream.market.feeds.alpaca:AlpacaFeed",
}


def feed_class(kind: str) -> type[Feed]:
    """The class registered under `kind`."""
    where = FEED_KINDS.get(kind)
    if where is None:
        raise FeedConfigError(f"unknown feed {kind!r}: use {', '.join(FEED_KINDS)}")
    module, _, name = where.partition(":")
    cls: type[Feed] = getattr(importlib.import_module(module), name)
    return cls


def parse_spec(
    text: str, instruments: Sequence[InstrumentSpec], defaults: Mapping[str, Any]
) -> FeedSpec:
    """One entry: its kind and its `key=value` options (each named once)."""
    try:
        kind, *parts = shlex.split(text)
    except ValueError as exc:
        raise FeedConfigError(f"{text!r}: {exc}") from None
    options: dict[str, str] = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or not key:
            raise FeedConfigError(f"{text!r}: {part!r} is not key=value")
        if key in options:
            raise FeedConfigError(f"{text!r}: {key} is given twice")
        options[key] = value
    return FeedSpec(text, kind, options, instruments, defaults)


def build_feeds(
    text: str,
    instruments: Sequence[InstrumentSpec],
    *,
    sim_defaults: Mapping[str, Any] | None = None,
) -> list[Feed]:
    """The feeds a FEEDS setting names, each built by its kind's `from_spec`."""
    feeds: list[Feed] = []
    for entry in (s.strip() for s in text.split(";")):
        if entry:
            spec = parse_spec(entry, instruments, sim_defaults or {})
            feeds.append(feed_class(spec.kind).from_spec(spec))
    return feeds
