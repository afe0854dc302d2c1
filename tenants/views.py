from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from drf_spectacular.utils import OpenApiExample, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from audit.models import ActorKind
from audit.services import Actor
from gateway import errors
from tenants import selectors, services
from tenants.authentication import caller_of
from tenants.serializers import (
    ApiKeySerializer,
    IssuedKeySerializer,
    RegisterInputSerializer,
    RegisterOutputSerializer,
)


class RegisterView(APIView):
    """Self sign-up: a new tenant with a test-mode key. Live keys are issued by operations."""

    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    @extend_schema(
        request=RegisterInputSerializer,
        responses={201: RegisterOutputSerializer},
        examples=[OpenApiExample("Sign up", request_only=True, value={"name": "Lusaka Books"})],
    )
    def post(self, request: Request) -> Response:
        if not settings.ALLOW_SIGNUP:
            raise errors.SignupDisabled()
        payload = RegisterInputSerializer(data=request.data)
        payload.is_valid(raise_exception=True)
        created = services.create_tenant(
            name=payload.validated_data["name"],
            actor=Actor(kind=ActorKind.SYSTEM, label="self sign-up"),
        )
        body = {"tenant": created.tenant, "api_key": created.keys[0].secret}
        return Response(RegisterOutputSerializer(body).data, status=status.HTTP_201_CREATED)


class ApiKeyListView(APIView):
    @extend_schema(
        responses=inline_serializer(
            "ApiKeyList",
            {"object": serializers.CharField(default="list"), "data": ApiKeySerializer(many=True)},
        )
    )
    def get(self, request: Request) -> Response:
        caller = caller_of(request)
        api_keys = selectors.list_api_keys(tenant=caller.tenant, mode=caller.mode)
        return Response({"object": "list", "data": ApiKeySerializer(api_keys, many=True).data})


class ApiKeyDetailView(APIView):
    @extend_schema(responses=ApiKeySerializer)
    def get(self, request: Request, key_id: int) -> Response:
        caller = caller_of(request)
        api_key = selectors.get_api_key(tenant=caller.tenant, mode=caller.mode, key_id=key_id)
        return Response(ApiKeySerializer(api_key).data)

    @extend_schema(responses={200: ApiKeySerializer})  # the revoked key, not a 204
    def delete(self, request: Request, key_id: int) -> Response:
        """Revoke a key at once (for a leaked key; use rotate for a planned change)."""
        caller = caller_of(request)
        api_key = selectors.get_api_key(tenant=caller.tenant, mode=caller.mode, key_id=key_id)
        api_key = services.revoke_api_key(api_key=api_key, actor=caller.actor)
        return Response(ApiKeySerializer(api_key).data)


class ApiKeyRotateView(APIView):
    @extend_schema(request=None, responses={201: IssuedKeySerializer})
    def post(self, request: Request) -> Response:
        """A new key of the caller's mode; the calling key keeps working for the grace period."""
        caller = caller_of(request)
        issued = services.rotate_api_key(
            api_key=caller.api_key,
            actor=caller.actor,
            grace=timedelta(hours=settings.API_KEY_ROTATION_GRACE_HOURS),
        )
        body = {**ApiKeySerializer(issued.api_key).data, "secret": issued.secret}
        return Response(body, status=status.HTTP_201_CREATED)
