"""`POST /api/auth/token/`: a program's API token for a username and password.

Failed attempts count towards the same throttle as the login page (django-axes: per
(account, address) and per address), so the endpoint cannot be used to guess passwords faster."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import authenticate
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from tickstream.accounts.services import token_get_or_create
from tickstream.common.api import ApiError, DecimalJSONParser, documented_errors


class CredentialsSerializer(serializers.Serializer[Any]):
    username = serializers.CharField(max_length=150)
    password = serializers.CharField(max_length=128)


class TokenSerializer(serializers.Serializer[Any]):
    token = serializers.CharField(help_text="send as `Authorization: Token <token>`")


class TokenObtainView(APIView):
    authentication_classes: list[Any] = []
    permission_classes: list[Any] = []
    parser_classes = [DecimalJSONParser]

    @extend_schema(
        request=CredentialsSerializer,
        responses={200: TokenSerializer, **documented_errors(400, 429)},
        auth=[],
    )
    def post(self, request: Request) -> Response:
        """Your API token, for `Authorization: Token <token>` on the API and the websocket."""
        body = request.data if isinstance(request.data, dict) else {}
        username, password = body.get("username"), body.get("password")
        if not isinstance(username, str) or not isinstance(password, str):
            raise ApiError("malformed_body", 'send {"username": "...", "password": "..."}')
        if not username or not password or len(username) > 150 or len(password) > 128:
            raise ApiError("bad_credentials", "wrong username or password")
        user = authenticate(request._request, username=username, password=password)
        if user is None or not user.is_active:
            raise ApiError("bad_credentials", "wrong username or password")
        return Response({"token": token_get_or_create(user=user).key})
