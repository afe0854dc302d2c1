from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway import fields
from tenants.models import ApiKey, Tenant


class TenantSerializer(serializers.ModelSerializer[Tenant]):
    class Meta:
        model = Tenant
        fields = ["id", "name", "slug", "is_active", "default_currency", "created_at"]
        read_only_fields = fields


class ApiKeySerializer(serializers.ModelSerializer[ApiKey]):
    object = serializers.SerializerMethodField()
    display = serializers.CharField(read_only=True)

    class Meta:
        model = ApiKey
        fields = [
            "id",
            "object",
            "name",
            "mode",
            "display",
            "created_at",
            "last_used_at",
            "expires_at",
            "revoked_at",
        ]
        read_only_fields = fields

    def get_object(self, api_key: ApiKey) -> str:
        return "api_key"


class RegisterInputSerializer(serializers.Serializer[None]):
    name = fields.StrictCharField(min_length=1, max_length=120)


class RegisterOutputSerializer(serializers.Serializer[dict[str, Any]]):
    tenant = TenantSerializer()
    api_key = serializers.CharField(help_text="The test-mode secret key. Shown only once.")


class IssuedKeySerializer(ApiKeySerializer):
    """A key at the moment of creation: the only response that ever carries the secret."""

    secret = serializers.CharField(read_only=True, help_text="Shown only once.")

    class Meta(ApiKeySerializer.Meta):
        fields = [*ApiKeySerializer.Meta.fields, "secret"]
        read_only_fields = fields
