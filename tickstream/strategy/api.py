"""REST API of strategies, owner only: stored runs (JSON, fills as CSV) and hosted
strategies (register, start, stop, remove). Refusals leave as JSON with a code."""

from __future__ import annotations

import csv
import io
from decimal import Decimal
from typing import Any

from django.http import HttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tickstream.common.api import (
    ApiError,
    NumberField,
    OwnerOnly,
    documented_errors,
    json_body,
    not_found,
)
from tickstream.common.core.edge import FieldError, text
from tickstream.market.core.analytics.intervals import IntervalError, parse_interval
from tickstream.strategy import selectors, services
from tickstream.strategy.models import HostedStrategy, StrategyRun
from tickstream.strategy.record import RecordError, record_from_json
from tickstream.strategy.sources import StrategyError, load_strategy, make_strategy, offered

MAX_PARAMS = 20
MAX_PARAM_TEXT = 100


class SourceSerializer(serializers.Serializer[Any]):
    name = serializers.CharField()
    doc = serializers.CharField()


class RunSummarySerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    mode = serializers.CharField()
    status = serializers.CharField()
    strategy = serializers.CharField()
    symbol = serializers.CharField()
    trades = serializers.IntegerField()
    total_return = serializers.FloatField(allow_null=True)
    created_at = serializers.DateTimeField()


class RunSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    mode = serializers.CharField()
    status = serializers.CharField()
    strategy = serializers.CharField()
    source = serializers.CharField()
    params = serializers.DictField()
    symbol = serializers.CharField()
    currency = serializers.CharField()
    cash = serializers.CharField()
    data = serializers.CharField()
    data_from = serializers.DateTimeField(allow_null=True)
    data_to = serializers.DateTimeField(allow_null=True)
    checksum = serializers.CharField()
    trades = serializers.IntegerField()
    setup = serializers.DictField()
    figures = serializers.DictField()
    equity = serializers.ListField(help_text="[[ms, value], ...]")
    prices = serializers.ListField(help_text="[[ms, last price], ...] per period")
    fills = serializers.ListField()
    orders = serializers.ListField()
    logs = serializers.ListField()
    error = serializers.CharField()


class HostedSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    name = serializers.CharField()
    source = serializers.CharField()
    symbol = serializers.CharField()
    interval = serializers.CharField()
    params = serializers.DictField()
    wanted = serializers.BooleanField()
    state = serializers.CharField()
    error = serializers.CharField()
    run = serializers.IntegerField(allow_null=True)


class HostedRequestSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    source = serializers.CharField(help_text="one of GET /api/strategies/sources/")
    symbol = serializers.CharField()
    interval = serializers.CharField(required=False, default="1m")
    params = serializers.DictField(required=False, help_text="text, numbers or booleans")


def run_summary(run: StrategyRun) -> dict[str, Any]:
    return {
        "id": run.pk,
        "mode": run.mode,
        "status": run.status,
        "strategy": run.strategy,
        "symbol": run.symbol,
        "trades": run.trades,
        "total_return": (run.figures or {}).get("total_return"),
        "created_at": run.created_at,
    }


def run_data(run: StrategyRun) -> dict[str, Any]:
    return {
        **run_summary(run),
        "source": run.source,
        "params": run.params,
        "currency": run.currency,
        "cash": str(run.cash),
        "data": run.data,
        "data_from": run.data_from,
        "data_to": run.data_to,
        "checksum": run.checksum,
        "setup": run.setup,
        "figures": run.figures,
        "equity": run.equity,
        "prices": run.prices,
        "fills": run.fills,
        "orders": run.orders,
        "logs": run.logs,
        "error": run.error,
    }


def hosted_data(h: HostedStrategy) -> dict[str, Any]:
    return {
        "id": h.pk,
        "name": h.name,
        "source": h.source,
        "symbol": h.symbol,
        "interval": h.interval,
        "params": h.params,
        "wanted": h.wanted,
        "state": h.state,
        "error": h.error,
        "run": h.run_id,
    }


class SourceListView(OwnerOnly):
    @extend_schema(responses={200: SourceSerializer(many=True), **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """The strategies this server can host (its examples and its operator's files)."""
        return Response([{"name": s.name, "doc": s.doc} for s in offered().values()])


class RunUploadSerializer(serializers.Serializer[Any]):
    mode = serializers.ChoiceField(choices=["backtest", "paper"])
    strategy = serializers.CharField()
    symbol = serializers.CharField()
    cash = NumberField()
    fills = serializers.ListField(
        help_text="{ns, order, side, price, quantity, fee, liquidity, trade}"
    )
    equity = serializers.ListField(help_text="[[ns, value], ...]")


class RunListView(OwnerOnly):
    @extend_schema(responses={200: RunSummarySerializer(many=True), **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """Your stored runs (backtest, paper, hosted), newest first (the latest 200)."""
        runs = selectors.runs_for(request.user)[:200]
        return Response([run_summary(r) for r in runs])

    @extend_schema(
        request=RunUploadSerializer,
        responses={201: RunSummarySerializer, **documented_errors(400, 403, 413)},
    )
    def post(self, request: Request) -> Response:
        """Store a run made elsewhere (`strategy paper --save`): every value is checked,
        and the figures are computed here from its equity and fills."""
        from tickstream.market.models import Instrument

        symbols = set(Instrument.objects.values_list("symbol", flat=True))
        try:
            record = record_from_json(json_body(request), symbols=symbols)
        except RecordError as exc:
            raise FieldError(exc.field, "bad_run", str(exc)) from None
        run = services.run_store(record, owner=request.user)
        return Response(run_summary(run), status=status.HTTP_201_CREATED)


def _run(request: Request, run_id: int) -> StrategyRun:
    run = selectors.run_for(request.user, run_id)
    if run is None:
        raise not_found("not_found", f"no run {run_id} of yours")
    return run


class RunDetailView(OwnerOnly):
    @extend_schema(responses={200: RunSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, run_id: int) -> Response:
        """A run whole: parameters, the data's range and checksum, figures (null where
        there is none), the equity curve, prices, fills, orders and log."""
        return Response(run_data(_run(request, run_id)))


class RunFillsCsvView(OwnerOnly):
    @extend_schema(responses={(200, "text/csv"): str, **documented_errors(403, 404)})
    def get(self, request: Request, run_id: int) -> HttpResponse:
        """A run's fills as CSV."""
        run = _run(request, run_id)
        out = io.StringIO()
        columns = ["time", "order", "symbol", "side", "price", "quantity", "fee", "liquidity"]
        writer = csv.DictWriter(out, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(run.fills)
        response = HttpResponse(out.getvalue(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="run-{run.pk}-fills.csv"'
        return response


def _params(value: Any) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict) or len(value) > MAX_PARAMS:
        raise FieldError(
            "params", "bad_params", f"params must be an object of at most {MAX_PARAMS}"
        )
    out: dict[str, Any] = {}
    for key, v in value.items():
        if not isinstance(key, str) or not key.isidentifier() or key == "symbol":
            raise FieldError("params", "bad_params", f"{key!r} is not a parameter name")
        if isinstance(v, Decimal):
            v = str(v)
        if not isinstance(v, str | bool) or (isinstance(v, str) and len(v) > MAX_PARAM_TEXT):
            raise FieldError("params", "bad_params", f"{key}: text, a number or a boolean")
        out[key] = v  # control characters: refused by the parser
    return out


class HostedListView(OwnerOnly):
    @extend_schema(responses={200: HostedSerializer(many=True), **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """Your hosted strategies."""
        return Response([hosted_data(h) for h in selectors.hosted_for(request.user)])

    @extend_schema(
        request=HostedRequestSerializer,
        responses={201: HostedSerializer, **documented_errors(400, 403, 409)},
    )
    def post(self, request: Request) -> Response:
        """Register a strategy for the server to run on your paper account (stopped; start
        it with `start`). Its parameters are checked by making it."""
        from tickstream.market.models import Instrument

        body = json_body(request)
        name = text(body, "name").strip()
        if not 0 < len(name) <= 100:
            raise FieldError("name", "bad_name", "name must be 1 to 100 characters")
        source = offered().get(text(body, "source"))
        if source is None:
            names = ", ".join(offered())
            raise FieldError("source", "unknown_source", f"source must be one of: {names}")
        symbol = text(body, "symbol").strip().upper()[:33]
        if not Instrument.objects.filter(symbol=symbol, active=True).exists():
            raise FieldError("symbol", "unknown_instrument", f"{symbol!r} is not traded here")
        interval = text(body, "interval") or "1m"
        try:
            parse_interval(interval)
        except IntervalError as exc:
            raise FieldError("interval", "bad_interval", str(exc)) from None
        params = _params(body.get("params"))
        try:
            make_strategy(load_strategy(source.path), symbol, params, interval)
        except StrategyError as exc:
            raise FieldError("params", "bad_params", str(exc)) from None
        if HostedStrategy.objects.filter(owner=request.user, name=name).exists():
            raise ApiError("name_taken", f"you have a strategy named {name!r}", status=409)
        hosted = HostedStrategy.objects.create(
            owner=request.user, name=name, source=source.name, symbol=symbol,
            interval=interval, params=params,
        )  # fmt: skip
        return Response(hosted_data(hosted), status=status.HTTP_201_CREATED)


def _hosted(request: Request, hosted_id: int) -> HostedStrategy:
    hosted = selectors.hosted_for(request.user).filter(pk=hosted_id).first()
    if hosted is None:
        raise not_found("not_found", f"no hosted strategy {hosted_id} of yours")
    return hosted


class HostedDetailView(OwnerOnly):
    @extend_schema(responses={204: None, **documented_errors(403, 404, 409)})
    def delete(self, request: Request, hosted_id: int) -> Response:
        """Remove a stopped strategy (its runs stay)."""
        hosted = _hosted(request, hosted_id)
        if hosted.wanted or hosted.state == HostedStrategy.State.RUNNING:
            raise ApiError("running", "stop it first", status=409)
        hosted.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


class HostedStartView(OwnerOnly):
    running = True

    @extend_schema(request=None, responses={200: HostedSerializer, **documented_errors(403, 404)})
    def post(self, request: Request, hosted_id: int) -> Response:
        """Start (or, at `stop/`, stop) it: the server acts within a second or so; `state`
        says when it has. Stopping cancels its open orders."""
        hosted = services.hosted_want(hosted=_hosted(request, hosted_id), running=self.running)
        return Response(hosted_data(hosted))


class HostedStopView(HostedStartView):
    running = False
