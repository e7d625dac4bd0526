"""REST API of the paper venue, owner only (another user's order is a 404). Views are
thin: fields are checked by the pure core, changes made by `services`, reads done by
`selectors`; refusals leave as JSON with a code."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tickstream.common import api as common_api
from tickstream.common.api import (
    ApiError,
    NumberField,
    documented_errors,
    json_body,
    not_found,
)
from tickstream.common.core.edge import amount
from tickstream.portfolio.models import Portfolio
from tickstream.trading import selectors, services, shapes
from tickstream.trading.core.orders import OrderType, Side, Status, TimeInForce
from tickstream.trading.models import Order

STATUSES = ["open", *(s.value for s in Status)]


class AccountSerializer(serializers.Serializer[Any]):
    id = serializers.IntegerField()
    portfolio = serializers.IntegerField(allow_null=True, help_text="fills are recorded there")
    balances = shapes.BALANCE.serializer(many=True)
    open_orders = serializers.IntegerField()
    engine = serializers.ChoiceField(choices=["running", "unavailable"])


class AccountUpdateSerializer(serializers.Serializer[Any]):
    portfolio = serializers.IntegerField(allow_null=True)


class TransferSerializer(serializers.Serializer[Any]):
    amount = NumberField(help_text="above 0")
    currency = serializers.CharField(required=False, default="USD")


class OrderRequestSerializer(serializers.Serializer[Any]):
    """What an order is placed with (the pure core checks it: `core/requests.py`)."""

    symbol = serializers.CharField()
    side = serializers.ChoiceField(choices=[s.value for s in Side])
    type = serializers.ChoiceField(choices=[t.value for t in OrderType])
    quantity = NumberField(help_text="on the instrument's quantity step")
    price = NumberField(required=False, help_text="limit and stop_limit: on the price step")
    stop_price = NumberField(required=False, help_text="stop and stop_limit")
    time_in_force = serializers.ChoiceField(
        choices=[t.value for t in TimeInForce], required=False, default="GTC"
    )
    client_order_id = serializers.CharField(
        required=False, max_length=64, help_text="the same id again returns the first order"
    )


OrderSerializer = shapes.ORDER.serializer
FillSerializer = shapes.FILL.serializer
BalanceSerializer = shapes.BALANCE.serializer


class OwnerOnly(common_api.OwnerOnly):
    def account(self, request: Request) -> Any:
        return services.account_get_or_create(user=request.user)


class AccountView(OwnerOnly):
    @extend_schema(responses={200: AccountSerializer, **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """Your paper account: cash and assets, each `available` and `reserved`."""
        return Response(selectors.account_data(self.account(request)))

    @extend_schema(
        request=AccountUpdateSerializer,
        responses={200: AccountSerializer, **documented_errors(400, 403, 404)},
    )
    def patch(self, request: Request) -> Response:
        """Link a portfolio of yours (every later fill and transfer is recorded there), or
        unlink it with `null`."""
        body = json_body(request)
        if "portfolio" not in body:
            raise ApiError("required", "portfolio is required", details={"field": "portfolio"})
        wanted = body["portfolio"]
        portfolio = None
        if wanted is not None:
            if not isinstance(wanted, Decimal) or wanted != int(wanted):
                raise ApiError("bad_portfolio", "portfolio must be an id or null")
            portfolio = Portfolio.objects.filter(pk=int(wanted), owner=request.user).first()
            if portfolio is None:
                raise not_found("not_found", f"no portfolio {wanted} of yours")
        account = services.account_link(account=self.account(request), portfolio=portfolio)
        return Response(selectors.account_data(account))


class ResetSerializer(serializers.Serializer[Any]):
    amount = NumberField(help_text="the USD the account starts over with (0 or more)")


class AccountResetView(OwnerOnly):
    @extend_schema(
        request=ResetSerializer,
        responses={200: AccountSerializer, **documented_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        """Start the paper account over with `amount` USD: open orders cancelled, assets
        and cash set (by transfers), a linked portfolio unlinked (it keeps its history)."""
        body = json_body(request)
        value = amount("amount", body.get("amount"), bound=services.MAX_TRANSFER)
        account = services.account_reset(account=self.account(request), amount=value)
        return Response(selectors.account_data(account))


class TransferView(OwnerOnly):
    sign = 1

    @extend_schema(
        request=TransferSerializer,
        responses={201: BalanceSerializer, **documented_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        body = json_body(request)
        value = amount("amount", body.get("amount"), positive=True)
        currency = body.get("currency", "USD")
        if not isinstance(currency, str):
            raise ApiError("bad_currency", "currency must be text", details={"field": "currency"})
        balance = services.transfer_make(
            account=self.account(request), amount=self.sign * value, currency=currency
        )
        return Response(shapes.BALANCE.dump(balance), status=status.HTTP_201_CREATED)


class DepositView(TransferView):
    """Paper cash in."""


class WithdrawalView(TransferView):
    """Paper cash out, at most what is available."""

    sign = -1


class OrderListView(OwnerOnly):
    @extend_schema(
        parameters=[
            OpenApiParameter("status", str, enum=STATUSES, description="`open`: new or partial")
        ],
        responses={200: OrderSerializer(many=True), **documented_errors(400, 403)},
    )
    def get(self, request: Request) -> Response:
        """Your orders, newest first (at most 500)."""
        wanted = request.query_params.get("status")
        if wanted is not None and wanted not in STATUSES:
            raise ApiError("bad_status", f"status must be one of {', '.join(STATUSES)}")
        orders = selectors.order_list(account=self.account(request), status=wanted)[:500]
        return Response([shapes.ORDER.dump(o) for o in orders])

    @extend_schema(
        request=OrderRequestSerializer,
        responses={
            201: OrderSerializer,
            200: OrderSerializer,
            **documented_errors(400, 403, 409, 429, 503),
        },
    )
    def post(self, request: Request) -> Response:
        """Place an order. Its funds are reserved at once (`insufficient_funds` if they
        are not there); it fills against the live market and every change is pushed on
        your `orders` channel. The same `client_order_id` again returns the first order
        (200) and places nothing."""
        placed = services.order_place_from(user=request.user, data=json_body(request))
        code = status.HTTP_201_CREATED if placed.created else status.HTTP_200_OK
        return Response(shapes.ORDER.dump(placed.order), status=code)


class OrderDetailView(OwnerOnly):
    def _get(self, request: Request, order_id: int) -> Order:
        order = selectors.order_for(request.user, order_id)
        if order is None:
            raise not_found("not_found", f"no order {order_id} of yours")
        return order

    @extend_schema(responses={200: OrderSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, order_id: int) -> Response:
        return Response(shapes.ORDER.dump(self._get(request, order_id)))

    @extend_schema(responses={200: OrderSerializer, **documented_errors(403, 404, 409)})
    def delete(self, request: Request, order_id: int) -> Response:
        """Cancel an open order; its funds are released (`not_cancellable` once it has
        ended)."""
        order = self._get(request, order_id)
        cancelled = services.order_cancel(order=order)
        return Response(shapes.ORDER.dump(cancelled))


class FillListView(OwnerOnly):
    @extend_schema(
        parameters=[OpenApiParameter("limit", int, description="1 to 500 (default 50)")],
        responses={200: FillSerializer(many=True), **documented_errors(400, 403)},
    )
    def get(self, request: Request) -> Response:
        """Your fills, newest first."""
        raw = request.query_params.get("limit", "50")
        if not raw.isdigit() or len(raw) > 3 or not 1 <= int(raw) <= 500:
            raise ApiError("bad_limit", "limit must be a whole number from 1 to 500")
        fills = selectors.fill_list(account=self.account(request), limit=int(raw))
        return Response([shapes.FILL.dump(f) for f in fills])
