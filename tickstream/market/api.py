"""REST API of market data: instruments, quotes, candle history and tick ingest."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
    inline_serializer,
)
from rest_framework import permissions, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tickstream.market import selectors
from tickstream.market.analytics.indicators import (
    IndicatorSpec,
    IndicatorSpecError,
    parse_indicators,
)
from tickstream.market.analytics.intervals import Interval, IntervalError, parse_interval
from tickstream.market.api_errors import ApiError, not_found
from tickstream.market.feeds.formats import parse_time
from tickstream.market.messages import decimal_str
from tickstream.market.models import Candle, Instrument, Quote
from tickstream.market.pipeline_client import PipelineUnavailable, ingest_pushed
from tickstream.market.ticks import datetime_to_ns, ns_to_iso


@extend_schema_field({"type": "string", "format": "decimal", "example": "229.16"})
class PlainDecimalField(serializers.Field):  # type: ignore[type-arg]
    """Read-only decimal rendered as plain text (`229.16`, not `229.1600000000`)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value: Decimal) -> str:
        return decimal_str(value)


class InstrumentSerializer(serializers.ModelSerializer[Instrument]):
    tick_size = PlainDecimalField()
    quantity_step = PlainDecimalField()

    class Meta:
        model = Instrument
        fields = [
            "symbol",
            "name",
            "kind",
            "quote_currency",
            "tick_size",
            "quantity_step",
            "active",
        ]


class QuoteSerializer(serializers.ModelSerializer[Quote]):
    symbol = serializers.CharField(source="instrument.symbol")
    last = PlainDecimalField()
    open = PlainDecimalField()
    high = PlainDecimalField()
    low = PlainDecimalField()
    prev_close = PlainDecimalField(allow_null=True)
    change = PlainDecimalField()
    change_pct = PlainDecimalField(allow_null=True)
    volume = PlainDecimalField()
    vwap = PlainDecimalField(allow_null=True)

    class Meta:
        model = Quote
        fields = [
            "symbol",
            "last",
            "open",
            "high",
            "low",
            "prev_close",
            "change",
            "change_pct",
            "volume",
            "vwap",
            "trades",
            "time",
        ]


def candle_json(candle: Candle, interval: str) -> dict[str, Any]:
    ts = datetime_to_ns(candle.start)
    return {
        "interval": interval,
        "time": ns_to_iso(ts),
        "t": ts // 1_000_000,
        "open": decimal_str(candle.open),
        "high": decimal_str(candle.high),
        "low": decimal_str(candle.low),
        "close": decimal_str(candle.close),
        "volume": decimal_str(candle.volume),
        "trades": candle.trades,
        "closed": candle.closed,
    }


def _symbol_list(text: str | None) -> list[str]:
    return [s.strip().upper() for s in (text or "").split(",") if s.strip()]


class InstrumentListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("kind", str, enum=["stock", "crypto"]),
            OpenApiParameter("q", str, description="search in symbol and name"),
            OpenApiParameter("active", bool),
        ],
        responses=InstrumentSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """Every instrument, optionally filtered by kind, activity or a search term."""
        kind = request.query_params.get("kind")
        if kind and kind not in Instrument.Kind.values:
            raise ApiError("bad_kind", f"kind must be one of {', '.join(Instrument.Kind.values)}")
        active_text = request.query_params.get("active")
        active = None if active_text is None else active_text.lower() in {"1", "true", "yes"}
        qs = selectors.instrument_list(
            kind=kind, search=request.query_params.get("q"), active=active
        )
        return Response(InstrumentSerializer(qs, many=True).data)


class QuoteListView(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("symbols", str, description="comma-separated; all if empty")],
        responses=QuoteSerializer(many=True),
    )
    def get(self, request: Request) -> Response:
        """The latest quote of every symbol, or of the symbols asked for."""
        symbols = _symbol_list(request.query_params.get("symbols"))
        if symbols:
            known = selectors.instruments_by_symbol(symbols)
            unknown = [s for s in symbols if s not in known]
            if unknown:
                raise not_found(
                    "unknown_symbol",
                    f"unknown symbol(s): {', '.join(unknown)}",
                    details={"symbols": unknown},
                )
        return Response(QuoteSerializer(selectors.quote_list(symbols=symbols), many=True).data)


MAX_CANDLES = 5000


def _parse_bound(name: str, text: str | None) -> Any:
    if not text:
        return None
    value = parse_datetime(text)
    if value is None:
        try:
            from tickstream.market.ticks import ns_to_datetime

            return ns_to_datetime(parse_time(text))
        except ValueError:
            raise ApiError(
                "bad_range", f"{name} must be an ISO 8601 time or epoch number, not {text!r}"
            ) from None
    if value.tzinfo is None:
        raise ApiError("bad_range", f"{name} must carry a time zone (e.g. 2024-01-02T00:00Z)")
    return value


INDICATOR_WARMUP = 300  # older candles folded in before the first returned one


def _parse_indicators(text: str | None) -> tuple[IndicatorSpec, ...]:
    if not text:
        return ()
    try:
        return parse_indicators(settings.MARKET_INDICATORS if text == "default" else text)
    except IndicatorSpecError as exc:
        raise ApiError("bad_indicators", str(exc)) from None


def _candles_json(
    rows: list[Candle], older: list[Candle], interval: Interval, specs: tuple[IndicatorSpec, ...]
) -> list[dict[str, Any]]:
    out = [candle_json(c, interval.name) for c in rows]
    if specs:
        for candle, values in zip(
            out, selectors.with_indicators(rows, older, interval, specs), strict=True
        ):
            candle["values"] = values
    return out


class CandleListView(APIView):
    @extend_schema(
        parameters=[
            OpenApiParameter("symbol", str, required=True),
            OpenApiParameter(
                "interval", str, required=True, description="1s, 1m, 5m, 15m, 1h or 1d"
            ),
            OpenApiParameter("start", str, description="inclusive, ISO 8601 or epoch"),
            OpenApiParameter("end", str, description="exclusive, ISO 8601 or epoch"),
            OpenApiParameter("limit", int, description=f"1-{MAX_CANDLES}, default 500"),
            OpenApiParameter(
                "indicators",
                str,
                description="indicator specs (`sma:20,rsi:14,macd:12:26:9,bbands:20:2`…) or "
                "`default` (the server's MARKET_INDICATORS): each candle gets `values`, "
                f"computed by the live engine after {INDICATOR_WARMUP} older candles",
            ),
        ],
        responses=inline_serializer(
            "CandlePage",
            {
                "symbol": serializers.CharField(),
                "interval": serializers.CharField(),
                "candles": serializers.ListField(child=serializers.DictField()),
                "next": serializers.CharField(allow_null=True),
            },
        ),
    )
    def get(self, request: Request) -> Response:
        """Candles of a symbol and interval, oldest first: the newest `limit` in the range
        (the forming candle last, `closed: false`); `next` pages to older ones."""
        params = request.query_params
        symbol = (params.get("symbol") or "").strip().upper()
        if not symbol:
            raise ApiError("missing_symbol", "symbol is required")
        interval_name = params.get("interval") or ""
        try:
            interval = parse_interval(interval_name)
        except IntervalError as exc:
            raise ApiError("bad_interval", str(exc)) from None
        if interval.name not in settings.MARKET_INTERVALS:
            raise ApiError(
                "bad_interval",
                f"interval {interval.name!r} is not kept; use one of "
                f"{', '.join(settings.MARKET_INTERVALS)}",
            )
        try:
            limit = int(params.get("limit", 500))
        except ValueError:
            raise ApiError("bad_limit", "limit must be a whole number") from None
        if not 1 <= limit <= MAX_CANDLES:
            raise ApiError("bad_limit", f"limit must be between 1 and {MAX_CANDLES}")
        specs = _parse_indicators(params.get("indicators"))
        start = _parse_bound("start", params.get("start"))
        end = _parse_bound("end", params.get("end"))
        if start is not None and end is not None and start >= end:
            raise ApiError("bad_range", "start must be before end")
        instrument = Instrument.objects.filter(symbol=symbol).first()
        if instrument is None:
            raise not_found("unknown_symbol", f"unknown symbol {symbol!r}")
        warmup = INDICATOR_WARMUP if specs else 0
        rows, more = selectors.candle_page(
            instrument=instrument,
            interval=interval.name,
            start=start,
            end=end,
            limit=limit + warmup,
        )
        older, rows = rows[: max(0, len(rows) - limit)], rows[-limit:]
        more = more or bool(older)
        next_url = None
        if more and rows:
            query = params.copy()
            query["end"] = ns_to_iso(datetime_to_ns(rows[0].start))
            next_url = request.build_absolute_uri(f"{request.path}?{query.urlencode()}")
        return Response(
            {
                "symbol": symbol,
                "interval": interval.name,
                "candles": _candles_json(rows, older, interval, specs),
                "next": next_url,
            }
        )


class DecimalJSONParser(JSONParser):
    """JSON with numbers read as Decimal: prices never pass through a float."""

    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        try:
            return json.load(stream, parse_float=Decimal, parse_int=Decimal)
        except ValueError as exc:
            from rest_framework.exceptions import ParseError

            raise ParseError(f"JSON parse error - {exc}") from None


class CanPublishTicks(permissions.BasePermission):
    message = "this account may not publish ticks (needs the market.publish_ticks permission)"

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.user_can_publish_ticks(request.user)


class TickIngestView(APIView):
    # Token first, so a request without credentials gets 401 with `WWW-Authenticate: Token`.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    parser_classes = [DecimalJSONParser]
    permission_classes = [CanPublishTicks]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "ingest"

    @extend_schema(
        request=inline_serializer(
            "TickBatch",
            {
                "ticks": serializers.ListField(child=serializers.DictField()),
            },
        ),
        responses=inline_serializer(
            "TickIngestResult",
            {
                "accepted": serializers.IntegerField(),
                "rejected": serializers.ListField(child=serializers.DictField()),
            },
        ),
    )
    def post(self, request: Request) -> Response:
        """Push a batch of ticks for custom sources: `{"ticks": [{"symbol", "price", "size",
        "ts", "trade_id"}, ...]}`. Each tick is accepted or rejected on its own."""
        body = request.data
        items = body.get("ticks") if isinstance(body, dict) else None
        if not isinstance(items, list) or not items:
            raise ApiError(
                "malformed_body", 'the body must be {"ticks": [ ... ]} with at least one tick'
            )
        if len(items) > settings.INGEST_MAX_BATCH:
            raise ApiError(
                "batch_too_large",
                f"at most {settings.INGEST_MAX_BATCH} ticks a request",
                status_code=413,
            )
        try:
            rejected = async_to_sync(ingest_pushed)(items)
        except PipelineUnavailable as exc:
            raise ApiError("pipeline_unavailable", str(exc), status_code=503) from None
        accepted = len(items) - len(rejected)
        code = status.HTTP_200_OK if accepted else status.HTTP_422_UNPROCESSABLE_ENTITY
        return Response({"accepted": accepted, "rejected": rejected}, status=code)
