from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from rest_framework import serializers

from payments.models import Flow, Payment, Status
from providers.base import Provider
from providers.serializers import MsisdnField

MAX_METADATA_KEYS = 20
MAX_METADATA_BYTES = 4096


class PaymentCreateSerializer(serializers.Serializer[dict[str, Any]]):
    flow = serializers.ChoiceField(
        choices=[Flow.COLLECTION, Flow.DISBURSEMENT], default=Flow.COLLECTION
    )
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="A decimal string or number, > 0, at most 2 decimal places.",
    )
    # Shape only: which currencies and amounts are accepted is services.create_payment's rule.
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", default="ZMW", help_text="ISO 4217; the gateway accepts ZMW."
    )
    msisdn = MsisdnField(required=False)
    payer = MsisdnField(required=False, write_only=True, help_text="An alias of msisdn.")
    external_id = serializers.CharField(min_length=1, max_length=64)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    description = serializers.CharField(max_length=160, required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)

    def validate_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        if len(metadata) > MAX_METADATA_KEYS:
            raise serializers.ValidationError(f"At most {MAX_METADATA_KEYS} keys.")
        if len(json.dumps(metadata, default=str).encode()) > MAX_METADATA_BYTES:
            raise serializers.ValidationError(f"At most {MAX_METADATA_BYTES} bytes.")
        return metadata

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        payer = attrs.pop("payer", None)
        msisdn = attrs.get("msisdn") or payer
        if msisdn is None:
            raise serializers.ValidationError({"msisdn": ["This field is required."]})
        if payer is not None and attrs.get("msisdn") not in (None, payer):
            raise serializers.ValidationError({"payer": ["payer and msisdn differ."]})
        attrs["msisdn"] = msisdn
        return attrs


class RefundCreateSerializer(serializers.Serializer[dict[str, Any]]):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    external_id = serializers.CharField(min_length=1, max_length=64, required=False)
    description = serializers.CharField(max_length=160, required=False, allow_blank=True)


class PaymentFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    flow = serializers.ChoiceField(choices=Flow.choices, required=False)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    external_id = serializers.CharField(max_length=64, required=False)
    msisdn = MsisdnField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    provider_transaction_id = serializers.SerializerMethodField()
    failure_code = serializers.SerializerMethodField()
    failure_message = serializers.SerializerMethodField()
    refund_of: serializers.SlugRelatedField[Payment] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )

    class Meta:
        model = Payment
        fields = [
            "id",
            "object",
            "flow",
            "status",
            "amount",
            "currency",
            "msisdn",
            "provider",
            "external_id",
            "description",
            "provider_reference",
            "provider_transaction_id",
            "failure_code",
            "failure_message",
            "refund_of",
            "mode",
            "metadata",
            "created_at",
            "updated_at",
            "completed_at",
        ]
        read_only_fields = fields

    def get_object(self, payment: Payment) -> str:
        return "payment"

    def get_provider_transaction_id(self, payment: Payment) -> str | None:
        return payment.provider_transaction_id or None

    def get_failure_code(self, payment: Payment) -> str | None:
        return payment.failure_code or None

    def get_failure_message(self, payment: Payment) -> str | None:
        return payment.failure_message or None


class AccountHolderSerializer(serializers.Serializer[Any]):
    msisdn = serializers.CharField()
    provider = serializers.ChoiceField(choices=Provider.choices)
    active = serializers.BooleanField()
    given_name = serializers.CharField(allow_null=True)
    family_name = serializers.CharField(allow_null=True)
