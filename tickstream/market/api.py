"""REST API of market data: instruments, quotes, candle history and tick ingest."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from asgiref.sync import async_to_sync
from django.conf import settings
from django.utils.dateparse import parse_datetime
from drf_spectacular.utils import (
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import permissions, serializers, status
from rest_framework.authentication import SessionAuthentication, TokenAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.throttling import ScopedRateThrottle
from rest_framework.views import APIView

from tickstream.common.api import (
    ApiError,
    BatchJSONParser,
    NumberField,
    documented_errors,
    not_found,
)
from tickstream.market import selectors
from tickstream.market.core.analytics.indicators import (
    IndicatorSpec,
    IndicatorSpecError,
    parse_indicators,
)
from tickstream.market.core.analytics.intervals import Interval, parse_interval
from tickstream.market.core.formats import parse_time
from tickstream.market.core.messages import candle_dict, decimal_str, price_places, price_text
from tickstream.market.core.ticks import datetime_to_ns, ns_to_datetime, ns_to_iso
from tickstream.market.core.validation import (
    MAX_DECIMALS,
    MAX_DIGITS,
    MAX_PRICE,
    MAX_SIZE,
    MAX_TRADE_ID,
)
from tickstream.market.gateway import PipelineUnavailable, feeds_health, ingest_pushed
from tickstream.market.models import Candle, Instrument, Quote


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

    PRICES = ("last", "open", "high", "low", "prev_close")

    def to_representation(self, instance: Quote) -> dict[str, Any]:
        """Prices at the instrument's precision, as on the websocket."""
        data = super().to_representation(instance)
        places = price_places(instance.instrument.tick_size)
        for name in self.PRICES:
            value = getattr(instance, name)
            if value is not None:
                data[name] = price_text(value, places)
        return data

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
            "source",
        ]


def _symbol_list(text: str | None) -> list[str]:
    return [s.strip().upper() for s in (text or "").split(",") if s.strip()]


def _query(serializer: type[serializers.Serializer[Any]], request: Request) -> dict[str, Any]:
    """Validate query parameters with a serializer; the first bad field is an ApiError with
    that field's code (`bad_<field>`)."""
    # A plain dict, not the QueryDict: DRF reads a blank HTML-form field as absent, and the
    # schema says `kind=` is not a kind.
    checked = serializer(data=request.query_params.dict())
    if not checked.is_valid():
        field, problems = next(iter(checked.errors.items()))
        code = getattr(serializer.Meta, "codes", {}).get(field, f"bad_{field}")  # type: ignore[attr-defined]
        raise ApiError(code, f"{field}: {' '.join(str(p) for p in problems)}")
    return dict(checked.validated_data)


class InstrumentQuery(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=Instrument.Kind.values, required=False)
    q = serializers.CharField(
        required=False, allow_blank=True, max_length=100, help_text="search in symbol and name"
    )
    active = serializers.BooleanField(required=False, help_text="true or false")

    class Meta:
        codes = {"kind": "bad_kind", "q": "bad_query", "active": "bad_active"}


class QuoteQuery(serializers.Serializer[Any]):
    # Not trimmed: control characters count as white space to str.strip(), and 4,001 of
    # them must not pass as "no filter". (`+`: the blank value is its own case in the schema.)
    symbols = serializers.RegexField(
        r"^[A-Za-z0-9.\-_, ]+$",
        required=False,
        allow_blank=True,
        max_length=4000,
        trim_whitespace=False,
        help_text="comma-separated; all if empty",
    )

    class Meta:
        codes = {"symbols": "bad_symbols"}


class InstrumentListView(APIView):
    @extend_schema(
        parameters=[InstrumentQuery],
        responses={200: InstrumentSerializer(many=True), **documented_errors(400, 429)},
    )
    def get(self, request: Request) -> Response:
        """Every instrument, optionally filtered by kind, activity or a search term."""
        query = _query(InstrumentQuery, request)
        qs = selectors.instrument_list(
            kind=query.get("kind"), search=query.get("q"), active=query.get("active")
        )
        return Response(InstrumentSerializer(qs, many=True).data)


class QuoteListView(APIView):
    @extend_schema(
        parameters=[QuoteQuery],
        responses={200: QuoteSerializer(many=True), **documented_errors(400, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        """The latest quote of every symbol, or of the symbols asked for."""
        symbols = _symbol_list(_query(QuoteQuery, request).get("symbols"))
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


class FeedListView(APIView):
    @extend_schema(
        responses={
            200: OpenApiResponse(description="each running feed's state and counters"),
            **documented_errors(429, 503),
        },
    )
    def get(self, request: Request) -> Response:
        """Each running feed: kind, venue, symbols, state (`connecting`, `live`,
        `reconnecting`, `failed`, `finished`), whether it lags, the age of its last
        message, its messages, ticks, refused ticks, reconnects and errors by kind."""
        try:
            feeds = async_to_sync(feeds_health)()
        except PipelineUnavailable as exc:
            raise ApiError("pipeline_unavailable", str(exc), status=503) from None
        return Response({"feeds": feeds})


MAX_CANDLES = 5000
SYMBOL_QUERY = r"^\s*[A-Za-z0-9][A-Za-z0-9.\-_]{0,31}\s*$"


def _parse_bound(name: str, text: str | None) -> Any:
    if not text:
        return None
    try:
        value = parse_datetime(text)
    except ValueError:  # well formed, out of range (month 13)
        value = None
    if value is None:
        try:
            return ns_to_datetime(parse_time(text))
        except (ValueError, OverflowError, OSError):
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
    instrument: Instrument,
    rows: list[Candle],
    older: list[Candle],
    interval: Interval,
    specs: tuple[IndicatorSpec, ...],
) -> list[dict[str, Any]]:
    places = price_places(instrument.tick_size)
    out = [
        candle_dict(selectors.pure_candle(c), interval.name, closed=c.closed, places=places)
        for c in rows
    ]
    if specs:
        for candle, values in zip(
            out, selectors.with_indicators(rows, older, interval, specs), strict=True
        ):
            candle["values"] = values
    return out


class CandleQuery(serializers.Serializer[Any]):
    symbol = serializers.RegexField(SYMBOL_QUERY, max_length=32)
    interval = serializers.ChoiceField(choices=list(settings.MARKET_INTERVALS))
    start = serializers.CharField(
        required=False, max_length=64, help_text="inclusive, ISO 8601 with a zone, or epoch"
    )
    end = serializers.CharField(
        required=False, max_length=64, help_text="exclusive, ISO 8601 with a zone, or epoch"
    )
    limit = serializers.IntegerField(
        required=False, default=500, min_value=1, max_value=MAX_CANDLES
    )
    indicators = serializers.RegexField(
        r"^(default|[a-z]+(:\d+(\.\d+)?)*(,[a-z]+(:\d+(\.\d+)?)*)*)$",
        required=False,
        max_length=500,
        help_text="indicator specs (`sma:20,rsi:14,macd:12:26:9,bbands:20:2`...) or "
        "`default` (the server's MARKET_INDICATORS): each candle gets `values`, computed by "
        f"the live engine after {INDICATOR_WARMUP} older candles",
    )

    class Meta:
        codes = {
            "symbol": "missing_symbol",
            "start": "bad_range",
            "end": "bad_range",
            "indicators": "bad_indicators",
        }

    def to_internal_value(self, data: Any) -> Any:
        if isinstance(data.get("symbol"), str):
            data = {**data, "symbol": data["symbol"].strip().upper()}
        return super().to_internal_value(data)


class CandleSerializer(serializers.Serializer[Any]):
    interval = serializers.CharField()
    time = serializers.DateTimeField(help_text="start of the candle, UTC")
    t = serializers.IntegerField(help_text="start of the candle, epoch milliseconds")
    open = PlainDecimalField()
    high = PlainDecimalField()
    low = PlainDecimalField()
    close = PlainDecimalField()
    volume = PlainDecimalField()
    trades = serializers.IntegerField()
    closed = serializers.BooleanField(help_text="false for the forming candle")
    values = serializers.DictField(
        child=serializers.FloatField(allow_null=True),
        required=False,
        help_text="indicator outputs by name, when `indicators` was asked for",
    )


class CandlePageSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField()
    interval = serializers.CharField()
    candles = CandleSerializer(many=True)
    next = serializers.URLField(allow_null=True, help_text="the page of older candles")


class CandleListView(APIView):
    @extend_schema(
        parameters=[CandleQuery],
        responses={200: CandlePageSerializer, **documented_errors(400, 404, 429)},
    )
    def get(self, request: Request) -> Response:
        """Candles of a symbol and interval, oldest first: the newest `limit` in the range
        (the forming candle last, `closed: false`); `next` pages to older ones."""
        query = _query(CandleQuery, request)
        params = request.query_params
        symbol = query["symbol"]
        interval = parse_interval(query["interval"])
        limit = query["limit"]
        specs = _parse_indicators(query.get("indicators"))
        start = _parse_bound("start", query.get("start"))
        end = _parse_bound("end", query.get("end"))
        if start is not None and end is not None and start >= end:
            raise ApiError("bad_range", "start must be before end")
        instrument = selectors.instrument_by_symbol(symbol)
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
            next_query = params.copy()
            next_query["end"] = ns_to_iso(datetime_to_ns(rows[0].start))
            next_url = request.build_absolute_uri(f"{request.path}?{next_query.urlencode()}")
        return Response(
            {
                "symbol": symbol,
                "interval": interval.name,
                "candles": _candles_json(instrument, rows, older, interval, specs),
                "next": next_url,
            }
        )


@extend_schema_field(
    {
        "oneOf": [{"type": "string", "format": "date-time"}, {"type": "number"}],
        "example": "2026-01-02T14:30:00.123Z",
    }
)
class TimeField(serializers.Field):  # type: ignore[type-arg]
    """ISO 8601 time or epoch s/ms/us/ns."""


class PushedTickSerializer(serializers.Serializer[Any]):
    """One tick as pushed. Parsed by `parse_pushed_tick`; this documents its shape."""

    symbol = serializers.CharField(max_length=32, help_text="an active instrument")
    price = NumberField(
        help_text=f"> 0 and < {MAX_PRICE:,}, at most {MAX_DECIMALS} decimals and "
        f"{MAX_DIGITS} significant digits"
    )
    size = NumberField(
        required=False,
        help_text=f">= 0 and < {MAX_SIZE:,}, same precision as price; default 0",
    )
    ts = TimeField(required=False, help_text="when it traded; default now")
    trade_id = serializers.CharField(
        required=False,
        max_length=MAX_TRADE_ID,
        help_text="the source's id: a second tick with the same id is a `duplicate`",
    )


class TickBatchSerializer(serializers.Serializer[Any]):
    ticks = PushedTickSerializer(many=True, help_text="1 to INGEST_MAX_BATCH ticks")


class TickRejectionSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="position of the tick in `ticks`")
    code = serializers.CharField(help_text="`malformed_tick`, `bad_price`, `duplicate`, ...")
    message = serializers.CharField()


class TickIngestResultSerializer(serializers.Serializer[Any]):
    accepted = serializers.IntegerField()
    rejected = TickRejectionSerializer(many=True)


class CanPublishTicks(permissions.BasePermission):
    message = "this account may not publish ticks (needs the market.publish_ticks permission)"

    def has_permission(self, request: Request, view: Any) -> bool:
        return selectors.user_can_publish_ticks(request.user)


class TickIngestView(APIView):
    # Token first, so a request without credentials gets 401 with `WWW-Authenticate: Token`.
    authentication_classes = [TokenAuthentication, SessionAuthentication]
    parser_classes = [BatchJSONParser]
    permission_classes = [CanPublishTicks]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "ingest"

    @extend_schema(
        request=TickBatchSerializer,
        responses={
            200: TickIngestResultSerializer,
            422: OpenApiResponse(TickIngestResultSerializer, description="no tick accepted"),
            **documented_errors(400, 401, 403, 413, 415, 429, 503),
        },
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
                status=413,
            )
        try:
            rejected = async_to_sync(ingest_pushed)(items)
        except PipelineUnavailable as exc:
            raise ApiError("pipeline_unavailable", str(exc), status=503) from None
        accepted = len(items) - len(rejected)
        code = status.HTTP_200_OK if accepted else status.HTTP_422_UNPROCESSABLE_ENTITY
        return Response({"accepted": accepted, "rejected": rejected}, status=code)
