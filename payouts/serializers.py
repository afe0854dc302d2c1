"""Input and output shapes of payout batches (no rules here: payouts.services has them)."""

from __future__ import annotations

from typing import Any, cast

from rest_framework import serializers

from payments.serializers import PaymentCreateSerializer
from payouts.models import MAX_ITEMS
from providers.base import FailureCode, Provider
from providers.serializers import MsisdnField
from tenants.models import Mode

ITEM_STATUSES = ["PENDING", "SUCCESSFUL", "FAILED", "REJECTED"]


class PayoutItemCreateSerializer(PaymentCreateSerializer):
    """One payout: a payment's own fields (amount, msisdn, external_id, provider,
    description, metadata), checked as a single payout's are."""

    # DRF drops a parent's field set to None here.
    flow = None  # type: ignore[assignment]  # always a disbursement
    currency = None  # type: ignore[assignment]  # the batch's
    payer = None  # type: ignore[assignment]
    msisdn = MsisdnField()  # required: no alias to stand in for it


class PayoutBatchCreateSerializer(serializers.Serializer[dict[str, Any]]):
    currency = serializers.RegexField(
        r"^[A-Z]{3}$", default="ZMW", help_text="ISO 4217, for every item; the gateway accepts ZMW."
    )
    items = PayoutItemCreateSerializer(  # type: ignore[call-arg]  # DRF takes them; stubs lag
        many=True,
        min_length=1,
        max_length=MAX_ITEMS,
        help_text=f"1 to {MAX_ITEMS} payouts, each with an external_id of its own.",
    )

    def validate_items(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        repeated = _repeated_external_ids(items)
        if repeated:
            raise serializers.ValidationError(
                [{"external_id": [repeated[i]]} if i in repeated else {} for i in range(len(items))]
            )
        return items

    def to_internal_value(self, data: Any) -> dict[str, Any]:
        """Every error at once: a repeated external_id is reported with the items' other
        errors (DRF would check it only once every item is valid)."""
        try:
            return cast(dict[str, Any], super().to_internal_value(data))
        except serializers.ValidationError as invalid:
            detail, raw = invalid.detail, data.get("items") if isinstance(data, dict) else None
            errors = detail.get("items") if isinstance(detail, dict) else None
            if (
                isinstance(errors, list)
                and isinstance(raw, list)
                and len(errors) == len(raw)
                and all(isinstance(error, dict) for error in errors)
            ):
                for index, message in _repeated_external_ids(raw).items():
                    item = cast(dict[str, list[str]], errors[index])
                    item.setdefault("external_id", []).append(message)
            raise


def _repeated_external_ids(items: list[Any]) -> dict[int, str]:
    """Items whose external_id an earlier item of the batch has, with the message."""
    first: dict[str, int] = {}
    repeated = {}
    for index, item in enumerate(items):
        external_id = item.get("external_id") if isinstance(item, dict) else None
        if not isinstance(external_id, str):
            continue
        seen = first.setdefault(external_id, index)
        if seen != index:
            repeated[index] = f"Item {seen} of this batch has the same external_id."
    return repeated


class TotalSerializer(serializers.Serializer[Any]):
    count = serializers.IntegerField()
    amount = serializers.DecimalField(max_digits=16, decimal_places=2)


class TotalsSerializer(serializers.Serializer[Any]):
    PENDING = TotalSerializer()
    SUCCESSFUL = TotalSerializer()
    FAILED = TotalSerializer()
    REJECTED = TotalSerializer(help_text="Items that made no payout: their external_id was used.")


class PayoutItemSerializer(serializers.Serializer[Any]):
    index = serializers.IntegerField(help_text="The item's position in the request, from 0.")
    external_id = serializers.CharField()
    amount = serializers.DecimalField(max_digits=14, decimal_places=2)
    msisdn = serializers.CharField()
    status = serializers.ChoiceField(
        choices=ITEM_STATUSES,
        help_text="The payout's status; REJECTED: its external_id was already used by another "
        "payment (duplicate_of), so no payout was made for it.",
    )
    payment = serializers.CharField(allow_null=True, help_text="The payout's payment id.")
    provider = serializers.ChoiceField(choices=Provider.choices, allow_null=True)
    next_action = serializers.ChoiceField(
        choices=["manual_review", "queued"], allow_null=True, help_text="As on the payment."
    )
    failure_code = serializers.ChoiceField(choices=FailureCode.choices, allow_null=True)
    duplicate_of = serializers.CharField(
        allow_null=True, help_text="The payment that already used this external_id."
    )


class PayoutItemPageSerializer(serializers.Serializer[Any]):
    object = serializers.CharField(default="list")
    # Named like Serializer.data: this class only describes the answer's shape.
    data = PayoutItemSerializer(many=True)  # type: ignore[assignment]
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)


class PayoutBatchSerializer(serializers.Serializer[Any]):
    """The shape of a batch answer (payouts.views builds the body)."""

    id = serializers.CharField()
    object = serializers.CharField(default="payout_batch")
    mode = serializers.ChoiceField(choices=Mode.choices)
    currency = serializers.CharField()
    item_count = serializers.IntegerField()
    created_at = serializers.DateTimeField()
    cancelled_at = serializers.DateTimeField(allow_null=True)
    totals = TotalsSerializer(help_text="Count and amount of the items by status.")
    items = PayoutItemPageSerializer(help_text="The items in order, a page at a time.")


class PayoutBatchCancelSerializer(PayoutBatchSerializer):
    cancelled = serializers.IntegerField(help_text="How many queued payouts this cancelled.")
