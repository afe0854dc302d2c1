from __future__ import annotations

from typing import Any

from rest_framework import serializers

from gateway import fields
from providers import routing
from providers.base import Provider


class MsisdnField(fields.StrictCharField):
    """A Zambian mobile number in any common spelling, stored as E.164 digits."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("help_text", "0961234567, 961234567, 260961234567 or +260 96 123 4567")
        super().__init__(**kwargs)

    def to_internal_value(self, data: Any) -> str:
        text = super().to_internal_value(data)
        try:
            return routing.normalize_msisdn(text)
        except routing.InvalidMsisdn as exc:
            raise serializers.ValidationError(exc.detail) from exc


class PredictQuerySerializer(serializers.Serializer[dict[str, Any]]):
    msisdn = MsisdnField()


class PredictionSerializer(serializers.Serializer[dict[str, Any]]):
    msisdn = serializers.CharField(help_text="E.164 digits, e.g. 260961234567")
    provider = serializers.ChoiceField(choices=Provider.choices)
