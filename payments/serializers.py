from __future__ import annotations

import json
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from gateway import fields
from payments import failures
from payments.ledger.models import Entry, EntryKind, EntryPhase
from payments.models import Flow, Payment, Status
from providers.base import FailureCode, Provider
from providers.models import Availability
from providers.serializers import MsisdnField
from tenants.models import Mode

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
    external_id = fields.StrictCharField(min_length=1, max_length=64)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    description = fields.StrictCharField(max_length=160, required=False, allow_blank=True)
    metadata = serializers.DictField(required=False)

    def validate_metadata(self, metadata: dict[str, Any]) -> dict[str, Any]:
        if len(metadata) > MAX_METADATA_KEYS:
            raise serializers.ValidationError(f"At most {MAX_METADATA_KEYS} keys.")
        if len(json.dumps(metadata, default=str).encode()) > MAX_METADATA_BYTES:
            raise serializers.ValidationError(f"At most {MAX_METADATA_BYTES} bytes.")
        return metadata

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        # payer is an alias: one of the two, as the schema says (oneOf), never both.
        payer = attrs.pop("payer", None)
        if payer is not None and "msisdn" in attrs:
            raise serializers.ValidationError({"payer": ["Send msisdn or payer, not both."]})
        msisdn = attrs.get("msisdn") or payer
        if msisdn is None:
            raise serializers.ValidationError({"msisdn": ["This field is required."]})
        attrs["msisdn"] = msisdn
        return attrs


class RefundCreateSerializer(serializers.Serializer[dict[str, Any]]):
    amount = serializers.DecimalField(
        max_digits=14, decimal_places=2, min_value=Decimal("0.01"), required=False
    )
    external_id = fields.StrictCharField(min_length=1, max_length=64, required=False)
    description = fields.StrictCharField(max_length=160, required=False, allow_blank=True)


class PaymentFilterSerializer(serializers.Serializer[dict[str, Any]]):
    status = serializers.ChoiceField(choices=Status.choices, required=False)
    flow = serializers.ChoiceField(choices=Flow.choices, required=False)
    provider = serializers.ChoiceField(choices=Provider.choices, required=False)
    external_id = fields.StrictCharField(max_length=64, required=False)
    msisdn = MsisdnField(required=False)
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class RoutingSerializer(serializers.Serializer[Any]):
    predicted = serializers.ChoiceField(
        choices=Provider.choices, allow_null=True, help_text="The operator of the number's prefix."
    )
    chosen = serializers.ChoiceField(
        choices=Provider.choices,
        allow_null=True,
        help_text="Where the payment goes (null: no enabled operator knows the number).",
    )
    reason = serializers.CharField(
        help_text="prefix, explicit (the request named it), refund_of, lookup_pending (account "
        "lookups decide before sending), registered, fallback (the predicted operator does not "
        "know the number, the chosen one does), not_registered, lookup_failed."
    )
    lookups = serializers.DictField(
        child=serializers.CharField(),
        required=False,
        help_text="Each operator asked: registered, not_registered or unavailable.",
    )


class PaymentSerializer(serializers.ModelSerializer[Payment]):
    id = serializers.CharField(source="public_id")
    object = serializers.SerializerMethodField()
    provider_transaction_id = serializers.SerializerMethodField()
    failure_code = serializers.SerializerMethodField(
        help_text="Why a FAILED payment failed, the same for every operator (see /errors/)."
    )
    failure_message = serializers.SerializerMethodField(
        help_text="A sentence for the customer, by failure_code (payments.failures), to show as "
        "it is."
    )
    failure_detail = serializers.SerializerMethodField(
        help_text="What the operator said, verbatim (its own code or text), or the gateway's "
        "note: for support and reconciliation, not for customers."
    )
    next_action = serializers.ChoiceField(
        choices=["manual_review", "queued"],
        read_only=True,
        allow_null=True,
        help_text="null, or what the PENDING payment waits for besides its operator. "
        "manual_review: the operator cannot be asked this payment's outcome (its answer was "
        "lost, e.g. an Airtel refund), so it stays PENDING until the gateway's operations team "
        "settles it; it is never expired. queued: accepted while its operator was CLOSED; sent "
        "when it recovers, or cancelled with POST …/cancel.",
    )
    refund_of: serializers.SlugRelatedField[Payment] = serializers.SlugRelatedField(
        slug_field="public_id", read_only=True, allow_null=True
    )
    fee = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        read_only=True,
        help_text="The tenant's fee for this payment, fixed when it was created.",
    )
    net = serializers.DecimalField(
        max_digits=15,
        decimal_places=2,
        read_only=True,
        help_text="What the payment does to the available balance once SUCCESSFUL: a "
        "collection's amount - fee, or -(amount + fee) for a payout or refund.",
    )
    routing = serializers.SerializerMethodField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "object",
            "flow",
            "status",
            "next_action",
            "amount",
            "fee",
            "net",
            "currency",
            "msisdn",
            "provider",
            "routing",
            "external_id",
            "description",
            "provider_reference",
            "provider_transaction_id",
            "failure_code",
            "failure_message",
            "failure_detail",
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

    @extend_schema_field(RoutingSerializer(allow_null=True))
    def get_routing(self, payment: Payment) -> dict[str, Any] | None:
        # Null for payments made before routing was recorded.
        return RoutingSerializer(payment.routing).data if payment.routing else None

    def get_provider_transaction_id(self, payment: Payment) -> str | None:
        return payment.provider_transaction_id or None

    @extend_schema_field(serializers.ChoiceField(choices=FailureCode.choices, allow_null=True))
    def get_failure_code(self, payment: Payment) -> str | None:
        return payment.failure_code or None

    def get_failure_message(self, payment: Payment) -> str | None:
        return failures.customer_message(payment.failure_code)

    def get_failure_detail(self, payment: Payment) -> str | None:
        return payment.failure_message or None


def payment_body(payment: Payment) -> dict[str, Any]:
    """`PaymentSerializer(payment).data`, built by hand: the same JSON, key for key.

    A ModelSerializer builds its 22 fields anew for every payment it renders (about a tenth
    of a create's CPU); the API's hot answers use this instead. PaymentSerializer stays as
    the schema's description of the object, and a test holds the two equal for every field.
    """
    refund_of = payment.refund_of
    return {
        "id": payment.public_id,
        "object": "payment",
        "flow": str(payment.flow),
        "status": str(payment.status),
        "next_action": payment.next_action,
        "amount": _money(payment.amount),
        "fee": _money(payment.fee),
        "net": _money(payment.net),
        "currency": payment.currency,
        "msisdn": payment.msisdn,
        "provider": str(payment.provider),
        "routing": _routing(payment.routing),
        "external_id": payment.external_id,
        "description": payment.description,
        "provider_reference": str(payment.provider_reference),
        "provider_transaction_id": payment.provider_transaction_id or None,
        "failure_code": payment.failure_code or None,
        "failure_message": failures.customer_message(payment.failure_code),
        "failure_detail": payment.failure_message or None,
        "refund_of": refund_of.public_id if refund_of is not None else None,
        "mode": str(payment.mode),
        "metadata": payment.metadata,
        "created_at": _timestamp(payment.created_at),
        "updated_at": _timestamp(payment.updated_at),
        "completed_at": _timestamp(payment.completed_at),
    }


_CENT = Decimal("0.01")


def _routing(routing: dict[str, Any]) -> dict[str, Any] | None:
    """RoutingSerializer's answer: null for payments made before routing was recorded."""
    if not routing:
        return None
    body = {
        "predicted": routing.get("predicted"),
        "chosen": routing.get("chosen"),
        "reason": str(routing["reason"]),
    }
    if "lookups" in routing:
        body["lookups"] = {name: str(answer) for name, answer in routing["lookups"].items()}
    return body


def _money(amount: Decimal) -> str:
    return f"{amount.quantize(_CENT):f}"  # DRF's DecimalField, 2 places, as a string


def _timestamp(moment: datetime | None) -> str | None:
    """DRF's DateTimeField: ISO 8601 in the current time zone, UTC written as Z."""
    if moment is None:
        return None
    text = moment.astimezone(timezone.get_current_timezone()).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class AccountHolderSerializer(serializers.Serializer[Any]):
    msisdn = serializers.CharField()
    provider = serializers.ChoiceField(choices=Provider.choices)
    active = serializers.BooleanField()
    given_name = serializers.CharField(allow_null=True)
    family_name = serializers.CharField(allow_null=True)


# --- balances -------------------------------------------------------------------------------


class CurrencyAmountSerializer(serializers.Serializer[Any]):
    currency = serializers.CharField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class BalanceSerializer(serializers.Serializer[Any]):
    object = serializers.SerializerMethodField()
    mode = serializers.ChoiceField(choices=Mode.choices)
    available = CurrencyAmountSerializer(
        many=True, help_text="What payouts and refunds can use now, per currency."
    )
    reserved = CurrencyAmountSerializer(
        many=True, help_text="Held for payouts and refunds (amount + fee) not final yet."
    )

    def get_object(self, balance: Any) -> str:
        return "balance"


class BalanceTransactionFilterSerializer(serializers.Serializer[dict[str, Any]]):
    type = serializers.ChoiceField(choices=EntryKind.choices, required=False, source="kind")
    payment = serializers.RegexField(
        r"^pay_[A-Za-z0-9]{24}$",
        required=False,
        source="payment_public_id",
        error_messages={"invalid": "A payment id: pay_ and 24 letters or digits."},
        help_text="Only this payment's entries (another tenant's or mode's id matches nothing).",
    )
    created_after = serializers.DateTimeField(required=False)
    created_before = serializers.DateTimeField(required=False)


class BalanceTransactionSerializer(serializers.ModelSerializer[Entry]):
    """One ledger entry on the merchant's balance, as read by ledger.selectors (which
    annotates the signed amount and the payment's public id)."""

    id = serializers.SerializerMethodField()
    object = serializers.SerializerMethodField()
    type = serializers.ChoiceField(choices=EntryKind.choices, source="kind")
    phase = serializers.ChoiceField(
        choices=EntryPhase.choices,
        help_text="posted: final at once; pending: reserved from available; post: a pending "
        "entry made final; void: a pending entry cancelled, its amount available again.",
    )
    amount = serializers.DecimalField(
        max_digits=15,
        decimal_places=2,
        source="signed_amount",
        help_text="Positive when the balance is credited, negative when it is debited.",
    )
    currency = serializers.CharField()
    payment = serializers.CharField(source="payment_public_id", allow_null=True)
    description = serializers.SerializerMethodField()
    available_after = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    reserved_after = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    created_at = serializers.DateTimeField()

    class Meta:
        model = Entry
        fields = [
            "id",
            "object",
            "type",
            "phase",
            "amount",
            "currency",
            "payment",
            "description",
            "available_after",
            "reserved_after",
            "created_at",
        ]
        read_only_fields = fields

    def get_id(self, entry: Entry) -> str:
        return f"btx_{entry.pk}"

    def get_object(self, entry: Entry) -> str:
        return "balance_transaction"

    def get_description(self, entry: Entry) -> str | None:
        return entry.description or None


class TopUpCreateSerializer(serializers.Serializer[dict[str, Any]]):
    amount = serializers.DecimalField(
        max_digits=14,
        decimal_places=2,
        min_value=Decimal("0.01"),
        help_text="A decimal string or number, > 0, at most 2 decimal places.",
    )
    # Shape only: the accepted currencies and the largest top-up are the service's rules.
    currency = serializers.RegexField(r"^[A-Z]{3}$", default="ZMW")
    description = fields.StrictCharField(max_length=255, required=False, allow_blank=True)


# --- operators --------------------------------------------------------------------------------


class LimitSerializer(serializers.Serializer[Any]):
    min = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    max = serializers.DecimalField(max_digits=16, decimal_places=2, allow_null=True)
    daily_cap = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        allow_null=True,
        help_text="What one Lusaka day's payments of this kind may add up to (failed ones do not "
        "count).",
    )


class LimitsSerializer(serializers.Serializer[Any]):
    collection = LimitSerializer()
    disbursement = LimitSerializer()
    refund = LimitSerializer()


class CapabilitiesSerializer(serializers.Serializer[Any]):
    refunds = serializers.ChoiceField(choices=["none", "whole", "partial"])
    balance = serializers.BooleanField()
    kyc_name = serializers.BooleanField(help_text="Account lookups return the holder's name.")
    max_amount = serializers.DecimalField(max_digits=16, decimal_places=2)
    decimals = serializers.IntegerField()
    ussd_code = serializers.CharField(
        help_text="What a customer dials to approve when the prompt does not arrive."
    )


class HealthSerializer(serializers.Serializer[Any]):
    state = serializers.ChoiceField(choices=Availability.choices)
    reason = serializers.CharField(
        help_text="ok, errors, failing, slow, breaker_open, breaker_probing, or ops: <reason>."
    )
    calls = serializers.IntegerField(help_text="Submissions in the window.")
    success_rate = serializers.FloatField(allow_null=True)
    latency_ms = serializers.FloatField(allow_null=True, help_text="Mean, of successful calls.")
    override_expires_at = serializers.DateTimeField(allow_null=True)


class OperationsHealthSerializer(serializers.Serializer[Any]):
    collection = HealthSerializer()
    disbursement = HealthSerializer()
    refund = HealthSerializer()


class OperatorSerializer(serializers.Serializer[Any]):
    provider = serializers.ChoiceField(choices=Provider.choices)
    name = serializers.CharField()
    prefixes = serializers.ListField(child=serializers.CharField())
    enabled = serializers.BooleanField()
    allow_fallback = serializers.BooleanField()
    limits = LimitsSerializer()
    capabilities = CapabilitiesSerializer()
    availability = OperationsHealthSerializer()
