"""How a web process talks to the market pipeline: the one in this process, or the feed
process's over the channel layer (request and reply on a fresh channel)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

from channels.layers import get_channel_layer
from django.conf import settings

from tickstream.common.core import edge
from tickstream.market.broker import (
    FEEDS_CHANNEL,
    INGEST_CHANNEL,
    SNAPSHOT_CHANNEL,
    request_channel,
)
from tickstream.market.core.formats import parse_time
from tickstream.market.core.messages import tick_dict
from tickstream.market.core.ticks import Tick
from tickstream.market.runtime import current_runtime


class PipelineUnavailable(Exception):
    """No pipeline answered: the feed process is not running or not reachable."""


async def _request(channel: str, message: dict[str, Any]) -> dict[str, Any]:
    layer = get_channel_layer()
    if layer is None or settings.FEEDS_MODE != "external":
        raise PipelineUnavailable("no market pipeline runs in this deployment")
    try:
        async with asyncio.timeout(settings.INGEST_REPLY_TIMEOUT_S):
            reply = await layer.new_channel()
            await layer.send(request_channel(layer, channel), {**message, "reply_channel": reply})
            answer: dict[str, Any] = await layer.receive(reply)
    except TimeoutError:
        raise PipelineUnavailable("the feed process did not answer in time") from None
    except Exception as exc:  # the broker itself is down (a Redis outage)
        raise PipelineUnavailable(
            f"the channel layer is not reachable ({type(exc).__name__}: {exc})"
        ) from exc
    if not isinstance(answer, dict) or answer.get("type") == "market.error":
        raise PipelineUnavailable("the feed process could not answer the request")
    return answer


async def ingest_ticks(ticks: list[Tick]) -> list[dict[str, Any] | None]:
    """Run ticks through the pipeline; per tick None (accepted) or its rejection."""
    runtime = current_runtime()
    if runtime is not None:
        return [runtime.ingest(t) for t in ticks]
    answer = await _request(
        INGEST_CHANNEL, {"type": "market.ingest", "ticks": [tick_dict(t) for t in ticks]}
    )
    results: list[dict[str, Any] | None] = answer["results"]
    return results


async def market_snapshot(symbol: str) -> dict[str, Any]:
    """The exact state of a symbol with its sequence numbers."""
    runtime = current_runtime()
    if runtime is not None:
        return runtime.snapshot(symbol)
    return await _request(SNAPSHOT_CHANNEL, {"type": "market.snapshot", "symbol": symbol})


async def feeds_health() -> list[dict[str, Any]]:
    """The state and counters of every running feed."""
    runtime = current_runtime()
    answer = (
        runtime.feeds_health()
        if runtime is not None
        else await _request(FEEDS_CHANNEL, {"type": "market.feeds"})
    )
    feeds: list[dict[str, Any]] = answer["feeds"]
    return feeds


def parse_pushed_tick(item: Any, now: int) -> Tick:
    """One tick a client pushed (`{"symbol", "price", "size", "ts", "trade_id"}`); numbers
    as JSON numbers or strings, never through a float. Raises ValueError with the reason;
    the bounds of the values themselves are the validator's (`validation.py`)."""
    if not isinstance(item, dict):
        raise ValueError("each tick must be an object")
    unknown = set(item) - {"symbol", "price", "size", "ts", "trade_id"}
    if unknown:
        raise ValueError(f"unknown field(s): {', '.join(sorted(map(str, unknown)))[:200]}")
    symbol = item.get("symbol")
    if not isinstance(symbol, str) or not symbol.strip():
        raise ValueError("symbol must be a non-empty string")
    symbol = symbol.strip().upper()
    if len(symbol) > 32 or not symbol.isprintable():
        raise ValueError("symbol must be at most 32 printable characters")
    if "price" not in item:
        raise ValueError("price is required")
    price = _number("price", item["price"])
    size = _number("size", item.get("size", "0"))
    ts = item.get("ts")
    if ts is not None:
        if not isinstance(ts, str | Decimal | int) or isinstance(ts, bool):
            raise ValueError("ts must be an ISO 8601 string or an epoch number")
        ts = parse_time(str(ts))
    trade_id = item.get("trade_id")
    if trade_id is not None:
        if isinstance(trade_id, Decimal) and trade_id == trade_id.to_integral_value():
            trade_id = str(int(trade_id)) if len(str(trade_id)) <= 64 else str(trade_id)
        if not isinstance(trade_id, str):
            raise ValueError("trade_id must be a string or a whole number")
        if not 0 < len(trade_id) <= 64 or not trade_id.isprintable():
            raise ValueError("trade_id must be 1-64 printable characters")
    return Tick(symbol, price, size, now if ts is None else ts, now, "http", trade_id)


def _number(name: str, value: Any) -> Decimal:
    try:
        return edge.parse_decimal(value)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from None


async def ingest_pushed(items: list[Any]) -> list[dict[str, Any]]:
    """Parse and ingest pushed ticks; return the rejected ones (`index`, `code`, `message`)
    in order. Raises PipelineUnavailable when no pipeline answers."""
    now = time.time_ns()
    rejected: list[dict[str, Any]] = []
    ticks: list[tuple[int, Tick]] = []
    for index, item in enumerate(items):
        try:
            ticks.append((index, parse_pushed_tick(item, now)))
        except (ValueError, ArithmeticError, TypeError) as exc:
            rejected.append({"index": index, "code": "malformed_tick", "message": str(exc)})
    if ticks:
        results = await ingest_ticks([t for _, t in ticks])
        rejected += [
            {"index": i, **r} for (i, _), r in zip(ticks, results, strict=True) if r is not None
        ]
    return sorted(rejected, key=lambda r: r["index"])
