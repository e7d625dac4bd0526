"""Turns the FEEDS setting into feed adapters.

Specs are separated by `;`, each a kind followed by `key=value` options:
`simulated rate=100 seed=7`, `replay symbol=SPY file=data/spy.csv speed=60` (`speed=max`),
`exchange venue=binance symbols=BTC/USDT,ETH/USDT map=BTC-USD,ETH-USD` (any ccxt venue;
without `map`, `BTC/USDT` prices the instrument `BTC-USDT`), `alpaca symbols=AAPL,MSFT`.
A live feed's `backfill=N` is the days of past candles fetched at start for a symbol with
none stored (exchange 2, alpaca 5; 0 turns it off).
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Sequence
from pathlib import Path

from tickstream.market.core.instruments import InstrumentSpec
from tickstream.market.feeds.base import Feed
from tickstream.market.feeds.replay import ReplayFeed
from tickstream.market.feeds.simulated import SimulatedFeed


class FeedConfigError(ValueError):
    """A FEEDS spec that cannot be turned into a feed."""


def _options(parts: list[str], spec: str, allowed: set[str]) -> dict[str, str]:
    options = {}
    for part in parts:
        key, sep, value = part.partition("=")
        if not sep or key not in allowed:
            raise FeedConfigError(
                f"{spec!r}: unknown option {part!r} (allowed: {', '.join(sorted(allowed))})"
            )
        options[key] = value
    return options


def _number(options: dict[str, str], key: str, default: float, spec: str) -> float:
    try:
        value = float(options.get(key, default))
    except ValueError:
        raise FeedConfigError(f"{spec!r}: {key} must be a number") from None
    if not math.isfinite(value) or value < 0:
        raise FeedConfigError(f"{spec!r}: {key} must be a finite number, not negative")
    return value


MAX_BACKFILL_DAYS = 31.0  # at start; `manage.py backfill` fetches any range


def _backfill_days(options: dict[str, str], default: float, spec: str) -> float:
    days = _number(options, "backfill", default, spec)
    if days > MAX_BACKFILL_DAYS:
        raise FeedConfigError(
            f"{spec!r}: backfill is at most {MAX_BACKFILL_DAYS:g} days at start "
            "(use manage.py backfill for more)"
        )
    return days


def build_feeds(
    text: str,
    instruments: Sequence[InstrumentSpec],
    *,
    sim_defaults: dict[str, object] | None = None,
) -> list[Feed]:
    """Build the feeds a FEEDS setting names."""
    defaults = dict(sim_defaults or {})
    feeds: list[Feed] = []
    for spec in (s.strip() for s in text.split(";")):
        if not spec:
            continue
        kind, *rest = shlex.split(spec)
        if kind == "simulated":
            opts = _options(rest, spec, {"rate", "seed", "speed", "symbols", "stock_hours"})
            symbols = opts.get("symbols") or ",".join(defaults.get("symbols", []) or [])  # type: ignore[arg-type]
            chosen = [i for i in instruments if i.active]
            if symbols:
                wanted = set(symbols.split(","))
                chosen = [i for i in chosen if i.symbol in wanted]
                unknown = wanted - {i.symbol for i in chosen}
                if unknown:
                    raise FeedConfigError(f"{spec!r}: unknown symbols {sorted(unknown)}")
            if not chosen:
                raise FeedConfigError(
                    "the simulated market has no active instruments: "
                    "run `python manage.py load_instruments`"
                )
            stock_hours = opts.get("stock_hours", str(defaults.get("stock_hours", "always")))
            if stock_hours not in {"always", "exchange"}:
                raise FeedConfigError(f"{spec!r}: stock_hours must be always or exchange")
            feeds.append(
                SimulatedFeed(
                    chosen,
                    seed=int(_number(opts, "seed", float(defaults.get("seed", 0)), spec)),  # type: ignore[arg-type]
                    rate=_number(opts, "rate", float(defaults.get("rate", 50.0)), spec) or 50.0,  # type: ignore[arg-type]
                    speed=_number(opts, "speed", float(defaults.get("speed", 20.0)), spec),  # type: ignore[arg-type]
                    stock_hours=stock_hours,
                    backfill_s=float(defaults.get("backfill_s", 0.0)),  # type: ignore[arg-type]
                )
            )
        elif kind == "replay":
            opts = _options(rest, spec, {"symbol", "file", "speed"})
            if "symbol" not in opts or "file" not in opts:
                raise FeedConfigError(f"{spec!r}: replay needs symbol=... and file=...")
            path = Path(opts["file"])
            if not path.is_file():
                raise FeedConfigError(f"{spec!r}: no file {path}")
            speed_text = opts.get("speed", "1")
            speed = None if speed_text == "max" else _number(opts, "speed", 1.0, spec)
            if speed == 0:
                raise FeedConfigError(f"{spec!r}: speed must be positive or max")
            feeds.append(ReplayFeed(path, opts["symbol"].upper(), speed=speed))
        elif kind == "exchange":
            feeds.append(_exchange(rest, spec, instruments))
        elif kind == "alpaca":
            feeds.append(_alpaca(rest, spec, instruments))
        else:
            raise FeedConfigError(
                f"unknown feed {kind!r}: use simulated, replay, exchange or alpaca"
            )
    return feeds


def _active(mapped: Sequence[str], spec: str, instruments: Sequence[InstrumentSpec]) -> None:
    active = {i.symbol for i in instruments if i.active}
    missing = [m for m in mapped if m not in active]
    if missing:
        raise FeedConfigError(
            f"{spec!r}: no active instrument {', '.join(missing)} "
            "(add it, or name the instruments to price with map=...)"
        )


def _exchange(rest: list[str], spec: str, instruments: Sequence[InstrumentSpec]) -> Feed:
    from tickstream.market.feeds.exchange import ExchangeFeed, symbol_map, venue_symbols

    opts = _options(rest, spec, {"venue", "symbols", "map", "silence", "ws", "backfill"})
    venue = opts.get("venue", "").strip().lower()
    if not venue or not venue.isidentifier():
        raise FeedConfigError(f"{spec!r}: exchange needs venue=<a ccxt exchange id>")
    symbols = venue_symbols(opts.get("symbols", ""))
    if not symbols:
        raise FeedConfigError(f"{spec!r}: exchange needs symbols=BASE/QUOTE,...")
    try:
        mapping = symbol_map(symbols, opts["map"].split(",") if "map" in opts else None)
    except ValueError as exc:
        raise FeedConfigError(f"{spec!r}: {exc}") from None
    _active(list(mapping.values()), spec, instruments)
    import ccxt.pro

    if venue not in ccxt.pro.exchanges:
        raise FeedConfigError(f"{spec!r}: ccxt has no websocket exchange {venue!r}")
    silence = _number(opts, "silence", 60.0, spec) or 60.0
    return ExchangeFeed(
        venue,
        mapping,
        silence_s=silence,
        ws_url=opts.get("ws") or None,
        backfill_days=_backfill_days(opts, 2.0, spec),
    )


def _alpaca(rest: list[str], spec: str, instruments: Sequence[InstrumentSpec]) -> Feed:
    from tickstream.market.feeds.alpaca import AlpacaFeed

    opts = _options(rest, spec, {"symbols", "map", "data", "url", "rest", "silence", "backfill"})
    symbols = [s.strip().upper() for s in opts.get("symbols", "").split(",") if s.strip()]
    if not symbols:
        raise FeedConfigError(f"{spec!r}: alpaca needs symbols=AAPL,...")
    mapped = [m.strip().upper() for m in opts["map"].split(",")] if "map" in opts else symbols
    if len(mapped) != len(symbols):
        raise FeedConfigError(f"{spec!r}: map names {len(mapped)} instruments for {len(symbols)}")
    _active(mapped, spec, instruments)
    data = opts.get("data", "iex")
    if data not in {"iex", "sip", "test"}:
        raise FeedConfigError(f"{spec!r}: data must be iex, sip or test")
    from django.conf import settings

    try:
        return AlpacaFeed(
            dict(zip(symbols, mapped, strict=True)),
            key=settings.ALPACA_API_KEY,
            secret=settings.ALPACA_API_SECRET,
            data=data,
            url=opts.get("url") or None,
            silence_s=_number(opts, "silence", 0.0, spec),
            rest_url=opts.get("rest") or None,
            backfill_days=_backfill_days(opts, 5.0, spec),
        )
    except ValueError as exc:
        raise FeedConfigError(f"{spec!r}: {exc}") from None
