"""JSON Schemas of every message the server sends (protocol v1 and the tutorial endpoints).

docs/protocol.md describes them; tests validate real traffic against them.
"""

from __future__ import annotations

from typing import Any

DEC = {"type": "string", "pattern": r"^-?\d+(\.\d+)?$"}
DEC_OR_NULL = {"anyOf": [DEC, {"type": "null"}]}
INT = {"type": "integer", "minimum": 0}
# Nanoseconds as digits: above 2^53, which a JavaScript number cannot hold exactly.
NS = {"type": "string", "pattern": r"^\d{1,20}$"}
ID = {}  # the client's request id, echoed as sent (any JSON value, null if none)
NUM_OR_NULL = {"type": ["number", "null"]}


def obj(required: dict[str, Any], optional: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "type": "object",
        "required": sorted(required),
        "properties": {**required, **(optional or {})},
        "additionalProperties": False,
    }


QUOTE = obj(
    {
        "symbol": {"type": "string"},
        "last": DEC_OR_NULL,
        "open": DEC_OR_NULL,
        "high": DEC_OR_NULL,
        "low": DEC_OR_NULL,
        "prev_close": DEC_OR_NULL,
        "change": DEC_OR_NULL,
        "change_pct": DEC_OR_NULL,
        "volume": DEC,
        "vwap": DEC_OR_NULL,
        "trades": INT,
        "time": {"type": ["string", "null"]},
    },
    {"source": {"type": ["string", "null"]}},
)
CANDLE = obj(
    {
        "interval": {"type": "string"},
        "time": {"type": "string"},
        "t": INT,
        "open": DEC,
        "high": DEC,
        "low": DEC,
        "close": DEC,
        "volume": DEC,
        "trades": INT,
        "closed": {"type": "boolean"},
    },
    {"values": {"type": "object"}},
)
TRADE = obj(
    {
        "symbol": {"type": "string"},
        "price": DEC,
        "size": DEC,
        "t": INT,
        "ts_event": NS,
        "ts_recv": NS,
        "source": {"type": "string"},
        "trade_id": {"type": ["string", "null"]},
    }
)
CANDLES_DATA = obj(
    {"candle": {"anyOf": [CANDLE, {"type": "null"}]}, "closed": {"type": "array", "items": CANDLE}}
)
ANALYSIS_DATA = {
    "type": "object",
    "additionalProperties": {"type": "object", "additionalProperties": NUM_OR_NULL},
}

DATA_BY_KIND = {
    "ticker": {"anyOf": [QUOTE, {"type": "null"}]},
    "trades": TRADE,
    "candles": CANDLES_DATA,
    "analysis": ANALYSIS_DATA,
}
SNAPSHOT_DATA_BY_KIND = {**DATA_BY_KIND, "trades": {"type": "array", "items": TRADE}}

SERVER_MESSAGES: dict[str, dict[str, Any]] = {
    "welcome": obj(
        {
            "type": {"const": "welcome"},
            "version": {"const": 1},
            "user": {"type": ["integer", "null"]},
            "flush_ms": INT,
        }
    ),
    "subscribed": obj(
        {
            "type": {"const": "subscribed"},
            "id": ID,
            "channels": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "unsubscribed": obj(
        {
            "type": {"const": "unsubscribed"},
            "id": ID,
            "channels": {"type": "array", "items": {"type": "string"}},
        }
    ),
    "snapshot": obj(
        {
            "type": {"const": "snapshot"},
            "channel": {"type": "string"},
            "epoch": INT,
            "seq": INT,
            "reset": {"type": "boolean"},
            "data": {},
        }
    ),
    "update": obj(
        {"type": {"const": "update"}, "channel": {"type": "string"}, "seq": INT, "data": {}}
    ),
    "gap": obj({"type": {"const": "gap"}, "channel": {"type": "string"}, "from": INT, "to": INT}),
    "error": obj(
        {
            "type": {"const": "error"},
            "id": ID,
            "code": {"type": "string"},
            "message": {"type": "string"},
        },
        {"details": {"type": "object"}},  # an app operation's refusal: the field it names
    ),
    "result": obj(  # the answer to an app's operation (`order.place`)
        {"type": {"const": "result"}, "id": ID, "op": {"type": "string"}, "data": {}}
    ),
    "pong": obj({"type": {"const": "pong"}, "id": ID, "time": INT}),
    "heartbeat": obj({"type": {"const": "heartbeat"}, "time": INT}),
}

SEED_TICKER = {
    "symbol": {"type": "string"},
    "price": DEC,
    "change": DEC_OR_NULL,
    "change_pct": DEC_OR_NULL,
    "volume": DEC,
    "time": {"type": "string"},
}

SEED_MESSAGES: dict[str, dict[str, Any]] = {
    "stocks": obj({"symbol": {"type": "string"}, "price": DEC, "change": DEC_OR_NULL}),
    "cryptocurrency": obj(
        {"name": {"type": "string"}, "price": DEC, "timestamp": {"type": "string"}}
    ),
    "ticker": obj(SEED_TICKER),
    "stock_updates": obj(
        {
            **SEED_TICKER,
            "open": DEC_OR_NULL,
            "high": DEC_OR_NULL,
            "low": DEC_OR_NULL,
            "vwap": DEC_OR_NULL,
            "analysis": ANALYSIS_DATA,
        }
    ),
    "ack": obj(
        {
            "type": {"const": "ack"},
            "accepted": INT,
            "rejected": {"type": "array", "items": {"type": "object"}},
        }
    ),
}


def data_schema(message: dict[str, Any]) -> dict[str, Any] | None:
    """The schema of a v1 message's `data`, by its channel kind (public channels)."""
    kind = str(message.get("channel", "")).split(":")[0]
    table = SNAPSHOT_DATA_BY_KIND if message.get("type") == "snapshot" else DATA_BY_KIND
    return table.get(kind)
