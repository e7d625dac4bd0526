"""REST API of watchlists and alerts, owner only (another user's is a 404)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.request import Request
from rest_framework.response import Response

from tickstream.alerts import selectors, services, shapes
from tickstream.alerts.core.book import Condition
from tickstream.alerts.models import Alert, Watchlist
from tickstream.common.api import (
    ApiError,
    NumberField,
    OwnerOnly,
    documented_errors,
    json_body,
    not_found,
)


def _checked(body: dict[str, Any], field: str, kind: type | tuple[type, ...]) -> Any:
    """A body field of the given JSON type (absent: None); anything else, `null` included
    (no field here is nullable), is refused."""
    value = body.get(field)
    wrong = not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool)
    if field in body and wrong:
        raise ApiError(f"bad_{field}", f"{field} has the wrong type", details={"field": field})
    return value


class WatchlistRequestSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100)
    symbols = serializers.ListField(
        child=serializers.CharField(), required=False, help_text="in order (default: none)"
    )


class WatchlistUpdateSerializer(serializers.Serializer[Any]):
    name = serializers.CharField(max_length=100, required=False)
    symbols = serializers.ListField(child=serializers.CharField(), required=False)


class AlertRequestSerializer(serializers.Serializer[Any]):
    symbol = serializers.CharField()
    condition = serializers.ChoiceField(choices=[c.value for c in Condition])
    value = NumberField(help_text="a price level, or a percent for move_up/move_down")
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)


class AlertUpdateSerializer(serializers.Serializer[Any]):
    condition = serializers.ChoiceField(choices=[c.value for c in Condition], required=False)
    value = NumberField(required=False)
    note = serializers.CharField(required=False, allow_blank=True, max_length=200)
    active = serializers.BooleanField(required=False)


WatchlistSerializer = shapes.WATCHLIST.serializer
AlertSerializer = shapes.ALERT.serializer


class WatchlistListView(OwnerOnly):
    @extend_schema(responses={200: WatchlistSerializer(many=True), **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """Your watchlists, in order; the dashboard shows the first."""
        return Response(
            [shapes.WATCHLIST.dump(w) for w in selectors.watchlist_list(user=request.user)]
        )

    @extend_schema(
        request=WatchlistRequestSerializer,
        responses={201: WatchlistSerializer, **documented_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        body = json_body(request)
        name, symbols = _checked(body, "name", str), _checked(body, "symbols", list)
        created = services.watchlist_create(owner=request.user, name=name, symbols=symbols or [])
        return Response(shapes.WATCHLIST.dump(created), status=status.HTTP_201_CREATED)


class WatchlistDetailView(OwnerOnly):
    def _get(self, request: Request, watchlist_id: int) -> Watchlist:
        try:
            return selectors.watchlist_get(user=request.user, watchlist_id=watchlist_id)
        except Watchlist.DoesNotExist:
            raise not_found("not_found", f"no watchlist {watchlist_id} of yours") from None

    @extend_schema(responses={200: WatchlistSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, watchlist_id: int) -> Response:
        return Response(shapes.WATCHLIST.dump(self._get(request, watchlist_id)))

    @extend_schema(
        request=WatchlistUpdateSerializer,
        responses={200: WatchlistSerializer, **documented_errors(400, 403, 404)},
    )
    def patch(self, request: Request, watchlist_id: int) -> Response:
        """Rename, or replace the symbols (their order is the list's)."""
        watchlist = self._get(request, watchlist_id)
        body = json_body(request)
        name, symbols = _checked(body, "name", str), _checked(body, "symbols", list)
        updated = services.watchlist_update(watchlist=watchlist, name=name, symbols=symbols)
        return Response(shapes.WATCHLIST.dump(updated))

    @extend_schema(responses={204: None, **documented_errors(403, 404)})
    def delete(self, request: Request, watchlist_id: int) -> Response:
        services.watchlist_delete(watchlist=self._get(request, watchlist_id))
        return Response(status=status.HTTP_204_NO_CONTENT)


class AlertListView(OwnerOnly):
    @extend_schema(responses={200: AlertSerializer(many=True), **documented_errors(403)})
    def get(self, request: Request) -> Response:
        """Your alerts with their history (newest firings first)."""
        return Response([shapes.ALERT.dump(a) for a in selectors.alert_list(user=request.user)])

    @extend_schema(
        request=AlertRequestSerializer,
        responses={201: AlertSerializer, **documented_errors(400, 403)},
    )
    def post(self, request: Request) -> Response:
        """A price alert: `above`/`below` a level, or `move_up`/`move_down` by `value` %
        from the session open. It fires once per crossing, pushed on your `alerts`
        channel."""
        body = json_body(request)
        symbol, condition = _checked(body, "symbol", str), _checked(body, "condition", str)
        value, note = _checked(body, "value", (str, Decimal)), _checked(body, "note", str)
        created = services.alert_create(
            owner=request.user, symbol=symbol, condition=condition, value=value, note=note
        )
        return Response(shapes.ALERT.dump(created), status=status.HTTP_201_CREATED)


class AlertDetailView(OwnerOnly):
    def _get(self, request: Request, alert_id: int) -> Alert:
        try:
            return selectors.alert_get(user=request.user, alert_id=alert_id)
        except Alert.DoesNotExist:
            raise not_found("not_found", f"no alert {alert_id} of yours") from None

    @extend_schema(responses={200: AlertSerializer, **documented_errors(403, 404)})
    def get(self, request: Request, alert_id: int) -> Response:
        return Response(shapes.ALERT.dump(self._get(request, alert_id)))

    @extend_schema(
        request=AlertUpdateSerializer,
        responses={200: AlertSerializer, **documented_errors(400, 403, 404)},
    )
    def patch(self, request: Request, alert_id: int) -> Response:
        alert = self._get(request, alert_id)
        body = json_body(request)
        condition, value = _checked(body, "condition", str), _checked(body, "value", (str, Decimal))
        active, note = _checked(body, "active", bool), _checked(body, "note", str)
        updated = services.alert_update(
            alert=alert, condition=condition, value=value, active=active, note=note
        )
        return Response(shapes.ALERT.dump(updated))

    @extend_schema(responses={204: None, **documented_errors(403, 404)})
    def delete(self, request: Request, alert_id: int) -> Response:
        services.alert_delete(alert=self._get(request, alert_id))
        return Response(status=status.HTTP_204_NO_CONTENT)
