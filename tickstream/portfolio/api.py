"""REST API of portfolios, owner only: another user's portfolio is a 404, never a 403
that would confirm it exists. Views are thin: records are checked by the pure core,
changes made by `services`, reads done by `selectors`; errors leave as JSON with a code."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import ROUND_HALF_EVEN, Context, Decimal
from typing import Any

from django.conf import settings
from django.http import HttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers, status
from rest_framework.parsers import MultiPartParser
from rest_framework.request import Request
from rest_framework.response import Response

from tickstream.common.api import (
    ApiError,
    DecimalJSONParser,
    NumberField,
    OwnerOnly,
    documented_errors,
    json_body,
    not_found,
)
from tickstream.common.core.edge import text
from tickstream.market.core.messages import decimal_str
from tickstream.market.selectors import quote_currencies
from tickstream.portfolio import selectors, services, shapes
from tickstream.portfolio.core import brokers, csvfile, taxlots
from tickstream.portfolio.core.costbasis import Kind, Method
from tickstream.portfolio.core.records import Record, record
from tickstream.portfolio.core.returns import ReturnError
from tickstream.portfolio.core.valuation import money
from tickstream.portfolio.models import Portfolio, Transaction

MAX_CSV_BYTES = 2 * 1024 * 1024

# --- shapes, for the schema ---


class PortfolioRequestSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    currency = serializers.CharField(
        default="USD", help_text="any currency with ECB reference rates (EUR, GBP, JPY, ...)"
    )
    method = serializers.ChoiceField(choices=[m.value for m in Method], default="fifo")


PortfolioSerializer = shapes.PORTFOLIO.serializer
TransactionSerializer = shapes.TRANSACTION.serializer


class PortfolioUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    benchmark = serializers.CharField(
        required=False, allow_blank=True, help_text="an instrument's symbol; blank for none"
    )
    method = serializers.ChoiceField(choices=[m.value for m in Method], required=False)


@extend_schema_field(
    {"type": "string", "example": "2025-01-02T15:30:00Z", "description": "ISO 8601 time or date"}
)
class IsoTimeField(serializers.Field):  # type: ignore[type-arg]
    """A time as ISO 8601 text (a date alone is midnight UTC); checked by the core."""


class TransactionRequestSerializer(serializers.Serializer[Any]):
    kind = serializers.ChoiceField(choices=[k.value for k in Kind])
    symbol = serializers.CharField(required=False, allow_blank=True, help_text="trades only")
    quantity = NumberField(help_text="shares; a split's ratio; a cash amount")
    price = NumberField(required=False, help_text="per share (buys and sells)")
    fee = NumberField(required=False)
    time = IsoTimeField()
    note = serializers.CharField(required=False, allow_blank=True, max_length=500)
    currency = serializers.CharField(
        required=False,
        allow_blank=True,
        help_text="of price, fee and amount: a trade's is its instrument's; cash kinds: "
        "any, the portfolio's if blank",
    )
    rate = NumberField(
        required=False,
        help_text="units of the portfolio's currency per unit of the transaction's; "
        "blank: the ECB reference rate of its day (the last fixing on or before it)",
    )


class HoldingSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField()
    quantity = serializers.CharField()
    cost = serializers.CharField(help_text="exact, fees included")
    cost_basis = serializers.CharField(help_text="cost at cents")
    average_cost = serializers.CharField(allow_null=True)
    price = serializers.CharField(allow_null=True)
    market_value = serializers.CharField(allow_null=True)
    unrealized_pnl = serializers.CharField(allow_null=True)
    unrealized_pnl_pct = serializers.CharField(allow_null=True)
    day_change = serializers.CharField(allow_null=True)
    allocation_pct = serializers.CharField(allow_null=True)


class TotalsSerializer(serializers.Serializer[Any]):
    market_value = serializers.CharField()
    cash = serializers.CharField()
    value = serializers.CharField()
    cost_basis = serializers.CharField()
    realized_pnl = serializers.CharField()
    unrealized_pnl = serializers.CharField()
    unrealized_pnl_pct = serializers.CharField(allow_null=True)
    day_change = serializers.CharField()
    dividends = serializers.CharField()
    fees = serializers.CharField()
    deposits = serializers.CharField()
    withdrawals = serializers.CharField()
    invested = serializers.CharField(
        help_text="net money put in: deposits - withdrawals + money spent beyond the cash held"
    )


class ValuationSerializer(serializers.Serializer[Any]):
    as_of = serializers.DateTimeField(allow_null=True, help_text="the newest price's time")
    version = serializers.IntegerField(help_text="of the holdings; live marks name it")
    id = serializers.IntegerField()
    name = serializers.CharField()
    currency = serializers.CharField()
    method = serializers.CharField()
    revision = serializers.IntegerField(help_text="of the transactions valued")
    holdings = HoldingSerializer(many=True)
    totals = TotalsSerializer()


class ReturnsSerializer(serializers.Serializer[Any]):
    period = serializers.CharField()
    start = serializers.DateField()
    end = serializers.DateField()
    start_value = serializers.CharField()
    end_value = serializers.CharField()
    net_flows = serializers.CharField()
    gain = serializers.CharField()
    price_effect = serializers.CharField(help_text="of the gain: the prices' moves")
    currency_effect = serializers.CharField(
        help_text="of the gain: the exchange rates' moves (each day: what was held in other "
        "currencies at its start, times the change of their rates)"
    )
    twr = serializers.FloatField(allow_null=True, help_text="time-weighted, over the period")
    xirr = serializers.FloatField(
        allow_null=True, help_text="money-weighted, annual (periods of 28 days or more)"
    )
    benchmark = serializers.CharField(allow_null=True, help_text="the benchmark's symbol")
    benchmark_return = serializers.FloatField(
        allow_null=True,
        help_text="the benchmark's return over the same days, in the portfolio's currency "
        "(null: no benchmark, or no close of it by the period's start)",
    )


class HistoryPointSerializer(serializers.Serializer[Any]):
    day = serializers.DateField()
    market_value = serializers.CharField()
    cash = serializers.CharField()
    value = serializers.CharField()
    flow = serializers.CharField()
    currency_effect = serializers.CharField(help_text="of the day's gain: the rates' moves")
    twr = serializers.FloatField(help_text="time-weighted return since the first day shown")
    benchmark = serializers.FloatField(
        allow_null=True, help_text="the benchmark's return since the first day shown"
    )


class ImportSerializer(serializers.Serializer[Any]):
    csv = serializers.CharField(
        help_text="the file's text: time,kind,symbol,quantity,price,fee,note"
    )
    preview = serializers.BooleanField(default=False)
    source = serializers.ChoiceField(
        choices=["auto", "tickstream", *brokers.BY_NAME],
        default="auto",
        help_text="whose file it is: auto tells tickstream's CSV and the brokers' exports "
        "(schwab, fidelity) apart by their header",
    )
    columns = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="for a file with its own header: tickstream's column -> the file's "
        "(time, kind, symbol, quantity needed; price, fee, note optional)",
    )


class ImportResultSerializer(serializers.Serializer[Any]):
    preview = serializers.BooleanField()
    source = serializers.CharField(
        help_text="tickstream, schwab, fidelity, or mapped (by `columns`): how it was read"
    )
    rows = serializers.IntegerField()
    added = serializers.IntegerField()
    skipped = serializers.IntegerField(help_text="rows imported before")
    left_out = serializers.DictField(
        child=serializers.IntegerField(),
        help_text="a broker's rows of kinds tickstream does not track, by action",
    )
    transactions = shapes.RECORD.serializer(many=True)


# --- translation at the edge ---


def _portfolio(request: Request, portfolio_id: Any) -> Portfolio:
    try:
        return selectors.portfolio_get(user=request.user, portfolio_id=portfolio_id)
    except Portfolio.DoesNotExist:
        raise not_found("not_found", f"no portfolio {portfolio_id} of yours") from None


def _text(body: dict[str, Any], field: str, default: str | None = None) -> str | None:
    """A text field of the body: absent gives `default`; anything but text is refused."""
    if field not in body:
        return default
    return text(body, field)


def _record(data: dict[str, Any]) -> Record:
    return record(data, datetime.now(UTC))


# --- endpoints ---


class PortfolioListView(OwnerOnly):
    @extend_schema(responses={200: PortfolioSerializer(many=True), **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """Your portfolios."""
        return Response(
            [shapes.PORTFOLIO.dump(p) for p in selectors.portfolio_list(user=request.user)]
        )

    @extend_schema(
        request=PortfolioRequestSerializer,
        responses={201: PortfolioSerializer, **documented_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        """A new portfolio: `name`, `method` (fifo, lifo, hifo, average), `currency` (any
        with ECB reference rates; USD if absent)."""
        body = json_body(request)
        name, method = _text(body, "name", ""), _text(body, "method", "fifo")
        currency = _text(body, "currency", "USD")
        created = services.portfolio_create(
            owner=request.user, name=name or "", method=method or "", currency=currency or ""
        )
        return Response(shapes.PORTFOLIO.dump(created), status=status.HTTP_201_CREATED)


class PortfolioDetailView(OwnerOnly):
    @extend_schema(responses={200: PortfolioSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, portfolio_id: int) -> Response:
        return Response(shapes.PORTFOLIO.dump(_portfolio(request, portfolio_id)))

    @extend_schema(
        request=PortfolioUpdateSerializer,
        responses={200: PortfolioSerializer, **documented_errors(400, 403, 404)},
    )
    def patch(self, request: Request, portfolio_id: int) -> Response:
        """Rename, choose the benchmark, or change the cost-basis method (everything is
        recomputed)."""
        portfolio = _portfolio(request, portfolio_id)
        body = json_body(request)
        name, method = _text(body, "name"), _text(body, "method")
        benchmark = _text(body, "benchmark") if body.get("benchmark") is not None else ""
        if "benchmark" not in body:
            benchmark = None
        updated = services.portfolio_update(
            portfolio=portfolio, name=name, method=method, benchmark=benchmark
        )
        return Response(shapes.PORTFOLIO.dump(updated))

    @extend_schema(responses={204: None, **documented_errors(403, 404)})
    def delete(self, request: Request, portfolio_id: int) -> Response:
        services.portfolio_delete(portfolio=_portfolio(request, portfolio_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


def _cursor(position: tuple[datetime, int]) -> str:
    time, pk = position
    return f"{time.astimezone(UTC).isoformat()}~{pk}"


@extend_schema_field(OpenApiTypes.STR)
class CursorField(serializers.Field):  # type: ignore[type-arg]
    """A page's position, `<ISO time>~<id>`, as the `Link` header gives it."""

    def to_internal_value(self, data: Any) -> tuple[datetime, int]:
        try:
            time, pk = str(data).rsplit("~", 1)
            when = datetime.fromisoformat(time)
            if when.tzinfo is None:
                raise ValueError("no time zone")
            return when, int(pk)
        except ValueError:
            raise serializers.ValidationError("not a page position from a Link header") from None

    def to_representation(self, value: Any) -> str:
        return _cursor(value)


class TransactionsQuery(serializers.Serializer[Any]):
    limit = serializers.IntegerField(
        min_value=1, max_value=selectors.PAGE_MAX, default=selectors.PAGE_MAX
    )
    order = serializers.ChoiceField(choices=["asc", "desc"], default="asc")
    after = CursorField(required=False)


class TransactionListView(OwnerOnly):
    @extend_schema(
        parameters=[TransactionsQuery],
        responses={200: TransactionSerializer(many=True), **documented_errors(400, 403, 404)},
    )
    def get(self, request: Request, portfolio_id: int) -> Response:
        """The portfolio's transactions in trade-time order (`order=desc`: newest first),
        a page at a time: at most `limit` (default and most 1,000); when there are more,
        the `Link` header names the next page (`rel="next"`, with `after=`)."""
        portfolio = _portfolio(request, portfolio_id)
        query = TransactionsQuery(data=request.query_params.dict())
        if not query.is_valid():
            field = next(iter(query.errors))
            raise ApiError(f"bad_{field}", f"{field}: {query.errors[field][0]}")
        newest_first = query.validated_data["order"] == "desc"
        rows, more = selectors.transaction_page(
            portfolio=portfolio,
            limit=query.validated_data["limit"],
            newest_first=newest_first,
            after=query.validated_data.get("after"),
        )
        response = Response([shapes.TRANSACTION.dump(t) for t in rows])
        if more is not None:
            params = request.query_params.copy()
            params["after"] = _cursor(more)
            url = request.build_absolute_uri(f"{request.path}?{params.urlencode()}")
            response["Link"] = f'<{url}>; rel="next"'
        return response

    @extend_schema(
        request=TransactionRequestSerializer,
        responses={201: TransactionSerializer, **documented_errors(400, 403, 404)},
    )
    def post(self, request: Request, portfolio_id: int) -> Response:
        """Add a transaction. Selling more than is held at that time is refused with
        `insufficient_quantity`, and nothing changes."""
        portfolio = _portfolio(request, portfolio_id)
        checked = _record(json_body(request))
        row = services.transaction_add(portfolio=portfolio, record=checked)
        return Response(shapes.TRANSACTION.dump(row), status=status.HTTP_201_CREATED)


class TransactionDetailView(OwnerOnly):
    def _row(self, request: Request, portfolio_id: int, transaction_id: int) -> Transaction:
        portfolio = _portfolio(request, portfolio_id)
        try:
            return selectors.transaction_get(portfolio=portfolio, transaction_id=transaction_id)
        except Transaction.DoesNotExist:
            raise not_found("not_found", f"no transaction {transaction_id} here") from None

    @extend_schema(responses={200: TransactionSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, portfolio_id: int, transaction_id: int) -> Response:
        return Response(shapes.TRANSACTION.dump(self._row(request, portfolio_id, transaction_id)))

    @extend_schema(
        request=TransactionRequestSerializer,
        responses={200: TransactionSerializer, **documented_errors(400, 403, 404)},
    )
    def put(self, request: Request, portfolio_id: int, transaction_id: int) -> Response:
        """Replace a transaction's fields (all of them, as when adding it)."""
        row = self._row(request, portfolio_id, transaction_id)
        checked = _record(json_body(request))
        updated = services.transaction_update(transaction_row=row, record=checked)
        return Response(shapes.TRANSACTION.dump(updated))

    @extend_schema(responses={204: None, **documented_errors(400, 403, 404)})
    def delete(self, request: Request, portfolio_id: int, transaction_id: int) -> Response:
        """Delete a transaction, unless the history needs it (a sale of its shares)."""
        row = self._row(request, portfolio_id, transaction_id)
        services.transaction_delete(transaction_row=row)
        return Response(status=status.HTTP_204_NO_CONTENT)


class ValuationView(OwnerOnly):
    @extend_schema(responses={200: ValuationSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, portfolio_id: int) -> Response:
        """Holdings and totals at the latest prices (the live channel `portfolio:<id>`
        sends the same shape as the market moves)."""
        portfolio = _portfolio(request, portfolio_id)
        return Response(selectors.portfolio_valuation(portfolio).data())


_PLACES = Decimal("1e-10")
_WIDE = Context(prec=60)


def _amount(value: Decimal) -> str:
    """A figure of returns or history at most at the store's ten decimals: values at a
    day's exchange rate carry the rate's digits, which say nothing more."""
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent < -10:
        value = value.quantize(_PLACES, rounding=ROUND_HALF_EVEN, context=_WIDE)
    return decimal_str(value)


class ReturnsQuery(serializers.Serializer[Any]):
    period = serializers.ChoiceField(choices=list(selectors.PERIODS), default="ALL")


class ReturnsView(OwnerOnly):
    @extend_schema(
        parameters=[ReturnsQuery],
        responses={200: ReturnsSerializer, **documented_errors(400, 403, 404)},
    )
    def get(self, request: Request, portfolio_id: int) -> Response:
        """Time-weighted and money-weighted (XIRR) returns over 1D, 1M, YTD, 1Y or ALL."""
        portfolio = _portfolio(request, portfolio_id)
        query = ReturnsQuery(data=request.query_params.dict())
        if not query.is_valid():
            raise ApiError("bad_period", f"period must be one of {', '.join(selectors.PERIODS)}")
        period = query.validated_data["period"]
        try:
            r = selectors.portfolio_returns(portfolio, period)
        except ReturnError as exc:
            raise ApiError(exc.code, str(exc)) from None
        return Response(
            {
                "period": period,
                "start": r.start,
                "end": r.end,
                "start_value": _amount(r.start_value),
                "end_value": _amount(r.end_value),
                "net_flows": _amount(r.net_flows),
                "gain": _amount(r.gain),
                "price_effect": _amount(r.gain - r.currency_effect),
                "currency_effect": _amount(r.currency_effect),
                "twr": r.twr,
                "xirr": r.xirr,
                "benchmark": portfolio.benchmark.symbol if portfolio.benchmark else None,
                "benchmark_return": selectors.benchmark_return(portfolio, r.start, r.end),
            }
        )


class HistoryQuery(serializers.Serializer[Any]):
    start = serializers.DateField(required=False)
    end = serializers.DateField(required=False)


class HistoryView(OwnerOnly):
    @extend_schema(
        parameters=[HistoryQuery],
        responses={200: HistoryPointSerializer(many=True), **documented_errors(400, 403, 404)},
    )
    def get(self, request: Request, portfolio_id: int) -> Response:
        """The value at each day's end from the stored daily closes (for a chart): from
        `start` (default: the first transaction, at most 30 years back) to `end` (default
        today); a range over 30 years is `bad_range`."""
        portfolio = _portfolio(request, portfolio_id)
        query = HistoryQuery(data=request.query_params.dict())
        if not query.is_valid():
            field = next(iter(query.errors))
            raise ApiError(f"bad_{field}", f"{field} must be a date (YYYY-MM-DD)")
        start: date | None = query.validated_data.get("start")
        end: date | None = query.validated_data.get("end")
        if start and end and start > end:
            raise ApiError("bad_range", "start is after end")
        first, last = selectors.history_range(portfolio, start=start, end=end)
        if (last - first).days >= selectors.HISTORY_DAYS:
            raise ApiError("bad_range", "at most 30 years at a time")
        points = selectors.portfolio_history(portfolio, start=first, end=last)
        compared = selectors.cumulative(points, selectors.benchmark_closes(portfolio, first, last))
        return Response(
            [
                {
                    "day": p.day,
                    "market_value": _amount(p.market_value),
                    "cash": _amount(p.cash),
                    "value": _amount(p.value),
                    "flow": _amount(p.flow),
                    "currency_effect": _amount(p.currency_effect),
                    "twr": twr,
                    "benchmark": bench,
                }
                for p, (twr, bench) in zip(points, compared, strict=True)
            ]
        )


class ImportView(OwnerOnly):
    parser_classes = [DecimalJSONParser, MultiPartParser]

    @extend_schema(
        request=ImportSerializer,
        responses={200: ImportResultSerializer, **documented_errors(400, 403, 404, 413)},
    )
    def post(self, request: Request, portfolio_id: int) -> Response:
        """Import transactions from CSV (`time,kind,symbol,quantity,price,fee,note`, and
        optionally `currency,rate`), all or nothing: `preview` checks and shows without
        saving. Every bad row is listed in `details.problems` with its row, column and
        reason; rows imported before are skipped."""
        portfolio = _portfolio(request, portfolio_id)
        text, preview = _csv_text(request)
        translated = _from_broker(request, text)
        if translated is not None:
            text = translated.text
        try:
            records = csvfile.read(
                text,
                datetime.now(UTC),
                quoted_in=quote_currencies(),
            )
        except csvfile.CsvError as exc:
            raise ApiError(
                "bad_csv",
                f"nothing imported: {len(exc.problems)} problem(s) in the file",
                details={"problems": [p.as_dict() for p in exc.problems]},
            ) from None
        try:
            result = services.transactions_import(
                portfolio=portfolio, records=records, commit=not preview
            )
        except services.PortfolioError as exc:
            index = (exc.details or {}).get("index")
            problem = {"row": None if index is None else index + 2, "column": exc.field or ""}
            raise ApiError(
                exc.code,
                f"nothing imported: {exc.message}",
                details={"problems": [{**problem, "code": exc.code, "message": exc.message}]},
            ) from None
        return Response(
            {
                "preview": preview,
                "source": "tickstream" if translated is None else translated.preset,
                "rows": len(records),
                "added": result.added,
                "skipped": result.skipped,
                "left_out": {} if translated is None else dict(translated.skipped),
                "transactions": [shapes.RECORD.dump(r) for r in records],
            }
        )


def _from_broker(request: Request, text: str) -> brokers.Translated | None:
    """The file as tickstream's CSV when it is a broker's export (`source`, or found by
    its header with `auto`); None for tickstream's own CSV."""
    data = request.data
    columns = data.get("columns") if isinstance(data, dict) else None
    if columns is not None:  # the person's mapping of a file with its own header
        if not isinstance(columns, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in columns.items()
        ):
            raise ApiError("bad_mapping", "columns maps tickstream's columns to the file's")
        try:
            return brokers.Translated(brokers.remap(text, columns), "mapped")
        except brokers.MappingError as exc:
            raise ApiError("bad_mapping", str(exc), details={"field": "columns"}) from None
    source = data.get("source", "auto") if isinstance(data, dict) else "auto"
    if source == "tickstream":
        return None
    if source != "auto" and source not in brokers.BY_NAME:
        names = ", ".join(["auto", "tickstream", *brokers.BY_NAME])
        raise ApiError("bad_source", f"source is one of {names}", details={"field": "source"})
    preset = brokers.BY_NAME.get(source)
    translated = brokers.translate(text, preset)
    if preset is not None and translated is None:
        raise ApiError(
            "bad_source",
            f"this is not a {preset.label} file: its header is not in the first 20 lines",
            details={"field": "source"},
        )
    return translated


def _csv_text(request: Request) -> tuple[str, bool]:
    data = request.data
    upload = request.FILES.get("file") if hasattr(request, "FILES") else None
    if upload is not None:
        if upload.size > MAX_CSV_BYTES:
            raise ApiError("body_too_large", "the file is over 2 MiB", status=413)
        raw = upload.read()
    elif isinstance(data, dict) and isinstance(data.get("csv"), str):
        raw = data["csv"].encode()
    else:
        raise ApiError("malformed_body", 'send {"csv": "<the file>"} or a multipart "file"')
    if len(raw) > MAX_CSV_BYTES:
        raise ApiError("body_too_large", "the file is over 2 MiB", status=413)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise ApiError("bad_csv", "the file is not UTF-8 text") from None
    preview = data.get("preview") if isinstance(data, dict) else None
    return text, str(preview).lower() in {"true", "1", "yes"}


class ExportView(OwnerOnly):
    @extend_schema(
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the CSV file"),
            **documented_errors(403, 404),
        },
        parameters=[OpenApiParameter("format", exclude=True)],
    )
    def get(self, request: Request, portfolio_id: int) -> HttpResponse:
        """The transactions as CSV, in the format import reads."""
        portfolio = _portfolio(request, portfolio_id)
        rows = selectors.transaction_list(portfolio=portfolio)
        body = csvfile.write(selectors.record_of(t) for t in rows)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"portfolio-{portfolio.pk}-transactions.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response


def _pct(ratio: Decimal | None) -> str | None:
    return None if ratio is None else money(ratio * 100)


class IncomeMonthSerializer(serializers.Serializer[Any]):
    month = serializers.CharField(help_text="YYYY-MM")
    amount = serializers.CharField()


class IncomeYearSerializer(serializers.Serializer[Any]):
    year = serializers.IntegerField()
    amount = serializers.CharField()


class IncomeHoldingSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField()
    quantity = serializers.CharField()
    cost_basis = serializers.CharField()
    ttm = serializers.CharField(help_text="its income of the last twelve months")
    forward = serializers.CharField(
        allow_null=True, help_text="estimate of the next twelve months (null: paid nothing)"
    )
    yield_on_cost_pct = serializers.CharField(allow_null=True)


class IncomeSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    total = serializers.CharField()
    ttm = serializers.CharField(help_text="the last twelve months' income")
    forward = serializers.CharField(help_text="the holdings' forward estimates, added")
    yield_on_cost_pct = serializers.CharField(allow_null=True)
    months = IncomeMonthSerializer(many=True)
    years = IncomeYearSerializer(many=True)
    holdings = IncomeHoldingSerializer(many=True)


class IncomeView(OwnerOnly):
    @extend_schema(responses={200: IncomeSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, portfolio_id: int) -> Response:
        """Dividends and interest (gross, in the portfolio's currency at each payment's
        rate) per month and per year, the last twelve months', a forward estimate per
        holding (its last twelve months' payments per share held, times the shares held
        now, at today's rate) and yield on cost."""
        portfolio = _portfolio(request, portfolio_id)
        found = selectors.portfolio_income(portfolio)
        return Response(
            {
                "currency": portfolio.currency,
                "total": money(found.total),
                "ttm": money(found.ttm),
                "forward": money(found.forward),
                "yield_on_cost_pct": _pct(found.yield_on_cost),
                "months": [{"month": m, "amount": money(a)} for m, a in found.months.items()],
                "years": [{"year": y, "amount": money(a)} for y, a in found.years.items()],
                "holdings": [
                    {
                        "symbol": h.symbol,
                        "quantity": decimal_str(h.quantity),
                        "cost_basis": money(h.cost),
                        "ttm": money(h.ttm),
                        "forward": None if h.estimate is None else money(h.estimate),
                        "yield_on_cost_pct": _pct(h.yield_on_cost),
                    }
                    for h in found.holdings
                ],
            }
        )


class TaxLotsQuery(serializers.Serializer[Any]):
    year = serializers.IntegerField(
        required=False, min_value=1900, max_value=9999, help_text="default: this year"
    )
    method = serializers.ChoiceField(
        choices=[m.value for m in Method],
        required=False,
        help_text="what if: another method than the portfolio's (which is not changed)",
    )


class TaxLotSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField()
    acquired = serializers.DateField()
    sold = serializers.DateField()
    quantity = serializers.CharField()
    proceeds = serializers.CharField()
    cost = serializers.CharField()
    gain = serializers.CharField()
    term = serializers.ChoiceField(choices=["short", "long"])
    currency = serializers.CharField()
    buy_rate = serializers.CharField(allow_null=True)
    sale_rate = serializers.CharField()
    currency_effect = serializers.CharField()


class TaxTotalSerializer(serializers.Serializer[Any]):
    proceeds = serializers.CharField()
    cost = serializers.CharField()
    gain = serializers.CharField()


class TaxReportSerializer(serializers.Serializer[Any]):
    year = serializers.IntegerField()
    method = serializers.CharField()
    currency = serializers.CharField()
    long_term_days = serializers.IntegerField()
    years = serializers.ListField(child=serializers.IntegerField(), help_text="with sales")
    lots = TaxLotSerializer(many=True)
    totals = serializers.DictField(child=TaxTotalSerializer(), help_text="short, long, all")


def _tax_query(request: Request, portfolio: Portfolio) -> tuple[int, str]:
    query = TaxLotsQuery(data=request.query_params.dict())
    if not query.is_valid():
        field = next(iter(query.errors))
        raise ApiError(f"bad_{field}", f"{field}: {query.errors[field][0]}")
    year = query.validated_data.get("year") or datetime.now(UTC).year
    return year, query.validated_data.get("method") or portfolio.method


class TaxLotsView(OwnerOnly):
    @extend_schema(
        parameters=[TaxLotsQuery],
        responses={200: TaxReportSerializer, **documented_errors(400, 403, 404)},
    )
    def get(self, request: Request, portfolio_id: int) -> Response:
        """The realized gains of a year lot by lot: acquired, sold, quantity, proceeds,
        cost, gain, short or long term (held more than PORTFOLIO_LONG_TERM_DAYS), in the
        portfolio's currency with the rates used; totals; under any method."""
        portfolio = _portfolio(request, portfolio_id)
        year, method = _tax_query(request, portfolio)
        every = selectors.portfolio_tax_lots(portfolio, None, method)  # one replay
        found = every.of_year(year)

        def total(term: str | None) -> dict[str, str]:
            return {k: money(v) for k, v in found.total(term).items()}

        return Response(
            {
                "year": year,
                "method": method,
                "currency": portfolio.currency,
                "long_term_days": settings.PORTFOLIO_LONG_TERM_DAYS,
                "years": every.years(),
                "lots": [
                    {
                        "symbol": r.symbol,
                        "acquired": r.acquired,
                        "sold": r.sold,
                        "quantity": decimal_str(r.quantity),
                        "proceeds": money(r.proceeds),
                        "cost": money(r.cost),
                        "gain": money(r.gain),
                        "term": r.term,
                        "currency": r.currency or portfolio.currency,
                        "buy_rate": None if r.buy_rate is None else decimal_str(r.buy_rate),
                        "sale_rate": decimal_str(r.sale_rate),
                        "currency_effect": money(r.currency_effect),
                    }
                    for r in found.rows
                ],
                "totals": {"short": total("short"), "long": total("long"), "all": total(None)},
            }
        )


class TaxLotsCsvView(OwnerOnly):
    @extend_schema(
        parameters=[TaxLotsQuery, OpenApiParameter("format", exclude=True)],
        responses={
            (200, "text/csv"): OpenApiResponse(OpenApiTypes.STR, description="the CSV file"),
            **documented_errors(400, 403, 404),
        },
    )
    def get(self, request: Request, portfolio_id: int) -> HttpResponse:
        """The year's lots as CSV, with the columns of the common forms' lot listings
        (description, date acquired, date sold, proceeds, cost basis, gain or loss) and
        the term and rates behind them."""
        portfolio = _portfolio(request, portfolio_id)
        year, method = _tax_query(request, portfolio)
        found = selectors.portfolio_tax_lots(portfolio, year, method)
        body = taxlots.csv_text(found.rows, portfolio.currency)
        response = HttpResponse(body, content_type="text/csv; charset=utf-8")
        name = f"portfolio-{portfolio.pk}-lots-{year}-{method}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
