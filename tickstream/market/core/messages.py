"""Wire shapes of market data: decimals as strings, times as ISO 8601 and epoch ms.

One module owns these shapes so the broker messages, the REST API and the websocket
frames agree.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Context, Decimal
from functools import lru_cache
from typing import Any

from tickstream.market.core.analytics.candles import Candle
from tickstream.market.core.analytics.quote import Quote
from tickstream.market.core.analytics.state import ClosedCandle, SymbolState, Values
from tickstream.market.core.engine import TickUpdate
from tickstream.market.core.ticks import Tick, ns_to_iso

MESSAGE_TYPE_TICK = "market.tick"


_WIDE = Context(prec=80)  # any amount of the stores' 28 digits, to its minor unit
# The minor units of the currencies money is kept in (ISO 4217).
MINOR_UNITS = {"USD": 2, "EUR": 2, "GBP": 2, "CHF": 2, "CAD": 2, "AUD": 2, "JPY": 0}


def decimal_str(value: Decimal) -> str:
    """A decimal as plain text without trailing zeros: `229.1600000000` -> `229.16`."""
    text = fixed(value)
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text or "0"


def grouped(value: Decimal) -> str:
    """A decimal for people: without trailing zeros, thousands grouped: `1,234.5`."""
    return format(Decimal(decimal_str(value)), ",f")


def money_text(value: Decimal, currency: str, *, rounding: str = ROUND_HALF_EVEN) -> str:
    """An amount of money for people: to the minor unit of a fiat currency (rounded as
    told: ROUND_UP for what is needed, ROUND_DOWN for what is there), an asset as
    `grouped`."""
    places = MINOR_UNITS.get(currency)
    if places is None:
        return f"{grouped(value)} {currency}"
    unit = Decimal(1).scaleb(-places)
    return f"{value.quantize(unit, rounding=rounding, context=_WIDE):,f} {currency}"


@lru_cache(maxsize=1024)
def price_places(tick_size: Decimal) -> int:
    """The decimals an instrument's prices print with: those of its tick size."""
    exponent = tick_size.normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


@lru_cache(maxsize=16_384)
def price_text(value: Decimal, places: int) -> str:
    """A price at its instrument's precision: `230.10` for a tick of 0.01, never less, and
    more only when the price itself is finer (a sub-tick print); no exponent notation.

    Cached: a message writes a symbol's quote and six candles, which share most of their
    prices with each other and with the symbol's last messages. (Equal prices written with
    other exponents, `230.1` and `230.100`, have the same text, so one entry serves both.)
    """
    text = fixed(value)
    dot = text.find(".")
    if (len(text) - dot - 1 if dot >= 0 else 0) == places:
        return text  # the usual case: a price on its instrument's grid
    head, dot_, tail = text.partition(".")
    tail = tail.rstrip("0") if dot_ else ""
    if len(tail) < places:
        tail += "0" * (places - len(tail))
    return f"{head}.{tail}" if tail else head


def fixed(value: Decimal) -> str:
    """A decimal as plain text at its own precision: `230.00`, `0.0000000001`, never in
    exponent notation (`1E-10`, `1E+2`) as str() writes some."""
    # str() writes the same text unless it uses an exponent, at a third of the cost.
    text = str(value)
    return format(value, "f") if "E" in text or "e" in text else text


def _str(value: Decimal | None) -> str | None:
    return None if value is None else fixed(value)


def decimal_str_or_none(value: Decimal | None) -> str | None:
    """`decimal_str`, with None as None (an optional figure shown as absent)."""
    return None if value is None else decimal_str(value)


def round_value(value: float | None) -> float | None:
    """Round an indicator value to 10 significant digits at the edge."""
    return None if value is None else float(f"{value:.10g}")


def values_dict(values: Values) -> dict[str, float | None]:
    return {name: round_value(v) for name, v in values.items()}


def candle_dict(candle: Candle, interval: str, *, closed: bool, places: int = 0) -> dict[str, Any]:
    """The one shape of a candle, on the websocket and in the REST API: prices at the
    instrument's precision (`places`), the volume without padding."""
    start = candle.start
    return {
        "interval": interval,
        "time": ns_to_iso(start),
        "t": start // 1_000_000,
        "open": price_text(candle.open, places),
        "high": price_text(candle.high, places),
        "low": price_text(candle.low, places),
        "close": price_text(candle.close, places),
        "volume": decimal_str(candle.volume),
        "trades": candle.trades,
        "closed": closed,
    }


def quote_dict(quote: Quote, places: int = 0) -> dict[str, Any]:
    vwap = quote.vwap
    last, open_, high, low, prev_close = (
        quote.last, quote.open, quote.high, quote.low, quote.prev_close
    )  # fmt: skip
    return {
        "symbol": quote.symbol,
        # Prices at the instrument's precision; computed values normalised.
        "last": None if last is None else price_text(last, places),
        "open": None if open_ is None else price_text(open_, places),
        "high": None if high is None else price_text(high, places),
        "low": None if low is None else price_text(low, places),
        "prev_close": None if prev_close is None else price_text(prev_close, places),
        "change": decimal_str_or_none(quote.change),
        "change_pct": decimal_str_or_none(quote.change_pct),
        "volume": decimal_str(quote.volume),
        "vwap": None if vwap is None else decimal_str(round(vwap, 10)),
        "trades": quote.trades,
        "time": ns_to_iso(quote.ts) if quote.ts else None,
        "source": quote.source or None,
    }


def tick_dict(tick: Tick) -> dict[str, Any]:
    """A tick as plain data, the same on the broker and on the wire: decimals as strings;
    `t` the trade's time in integer milliseconds (as every time the protocol sends, exact
    in JavaScript), and the exact nanoseconds `ts_event` and `ts_recv` as digits (above
    2^53, a JSON number would lose them in a browser)."""
    return {
        "symbol": tick.symbol,
        "price": fixed(tick.price),
        "size": fixed(tick.size),
        "t": tick.ts_event // 1_000_000,
        "ts_event": str(tick.ts_event),
        "ts_recv": str(tick.ts_recv),
        "source": tick.source,
        "trade_id": tick.trade_id,
    }


def tick_from_dict(data: dict[str, Any]) -> Tick:
    """The inverse of `tick_dict`."""
    return Tick(
        str(data["symbol"]),
        Decimal(data["price"]),
        Decimal(data["size"]),
        int(data["ts_event"]),
        int(data["ts_recv"]),
        str(data["source"]),
        data.get("trade_id"),
    )


def _forming(state: SymbolState, places: int) -> dict[str, Any]:
    """The forming candle of each interval."""
    candles = {}
    for series in state.series:
        forming = series.builder.forming
        if forming is not None:
            name = series.interval.name
            candles[name] = candle_dict(forming, name, closed=False, places=places)
    return candles


def _analysis(state: SymbolState) -> dict[str, Any]:
    """Indicator values per interval as if each forming candle closed now."""
    return {s.interval.name: values_dict(s.provisional()) for s in state.series}


def _closed(c: ClosedCandle, places: int) -> dict[str, Any]:
    """A candle that closed, with its indicators' values at its close."""
    return {
        **candle_dict(c.candle, c.interval.name, closed=True, places=places),
        "values": values_dict(c.values),
    }


def tick_message(
    update: TickUpdate,
    *,
    epoch: int,
    with_analysis: bool,
    analysis_seq: int = 0,
    places: int = 0,
) -> dict[str, Any]:
    """The broker message of one accepted tick alone (prices at `places` decimals, the
    instrument's). The pipeline sends `batch_message`s; this one-tick shape is still read
    by the Hubs, and is the benchmark's baseline."""
    tick, state = update.tick, update.state
    message: dict[str, Any] = {
        "type": MESSAGE_TYPE_TICK,
        "v": 1,
        "epoch": epoch,
        "symbol": tick.symbol,
        "seq": update.seq,
        "trade": tick_dict(tick),
        "quote": quote_dict(state.quote, places),
        "candles": _forming(state, places),
        "closed": [_closed(c, places) for c in update.closed],
    }
    if with_analysis:
        message["analysis_seq"] = analysis_seq
        message["analysis"] = _analysis(state)
    return message


def batch_message(
    last: TickUpdate,
    *,
    first: int,
    trades: list[Tick],
    closed: list[tuple[int, ClosedCandle]],
    epoch: int,
    with_analysis: bool,
    analysis_seq: int = 0,
    places: int = 0,
) -> dict[str, Any]:
    """The broker message for the ticks of one symbol accepted since its last message:
    every trade (numbered `first` .. `seq`, one apart) and the state once, as it is after
    the last (`last`). Closed candles carry the number of the tick that closed them."""
    state = last.state
    message: dict[str, Any] = {
        "type": MESSAGE_TYPE_TICK,
        "v": 1,
        "epoch": epoch,
        "symbol": last.tick.symbol,
        "first": first,
        "seq": last.seq,
        "trades": [tick_dict(t) for t in trades],
        "quote": quote_dict(state.quote, places),
        "candles": _forming(state, places),
        "closed": [_closed(c, places) for _, c in closed],
        "closed_seq": [s for s, _ in closed],
    }
    if with_analysis:
        message["analysis_seq"] = analysis_seq
        message["analysis"] = _analysis(state)
    return message


def symbol_snapshot(
    state: SymbolState | None,
    *,
    symbol: str,
    epoch: int,
    seq: int,
    analysis_seq: int,
    places: int = 0,
) -> dict[str, Any]:
    """Everything a subscriber needs to start from: quote, forming candles, analysis."""
    snapshot: dict[str, Any] = {
        "type": "market.snapshot",
        "symbol": symbol,
        "epoch": epoch,
        "seq": seq,
        "analysis_seq": analysis_seq,
        "quote": None,
        "candles": {},
        "analysis": {},
    }
    if state is None:
        return snapshot
    if state.quote.last is not None:
        snapshot["quote"] = quote_dict(state.quote, places)
    snapshot["candles"] = _forming(state, places)
    snapshot["analysis"] = _analysis(state)
    return snapshot
