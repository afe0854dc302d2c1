"""The reports' query parameters and answers (I/O shapes only)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from rest_framework import serializers

from payments.models import Flow, Status
from reports import selectors


class _RangeSerializer(serializers.Serializer[dict[str, Any]]):
    """`from` and `to`, Lusaka days, both included. `from` is a Python keyword, so the
    serializers below are built with type() and their fields by name."""

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        today = selectors.today()
        end = attrs.get("to") or today
        start = attrs.get("from") or end
        if start > end:
            raise serializers.ValidationError({"from": "`from` is a day on or before `to`."})
        if end - start >= timedelta(days=selectors.MAX_DAYS):
            raise serializers.ValidationError(
                {"to": f"At most {selectors.MAX_DAYS} days per report; ask for several."}
            )
        return {**attrs, "from": start, "to": end}


_FROM = serializers.DateField(
    required=False, help_text="First Lusaka day (YYYY-MM-DD), included; default: `to`."
)
_TO = serializers.DateField(
    required=False, help_text="Last Lusaka day (YYYY-MM-DD), included; default: today."
)
_FORMAT = serializers.ChoiceField(
    choices=["json", "csv"],
    required=False,
    help_text="json (default): a list object; csv: one row per payment, with a header.",
)

PaymentReportQuerySerializer = type(
    "PaymentReportQuerySerializer",
    (_RangeSerializer,),
    {"from": _FROM, "to": _TO, "format": _FORMAT, "__module__": __name__},
)
SettlementReportQuerySerializer = type(
    "SettlementReportQuerySerializer",
    (_RangeSerializer,),
    {
        "from": serializers.DateField(required=False, help_text=_FROM.help_text),
        "to": serializers.DateField(required=False, help_text=_TO.help_text),
        "__module__": __name__,
    },
)


class SettlementSerializer(serializers.Serializer[selectors.SettlementRow]):
    date = serializers.DateField(source="day", help_text="The Lusaka day the payments were made.")
    flow = serializers.ChoiceField(choices=Flow.choices)
    status = serializers.ChoiceField(choices=Status.choices)
    currency = serializers.CharField()
    count = serializers.IntegerField()
    gross = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="The payments' amounts, summed."
    )
    fees = serializers.DecimalField(
        max_digits=16, decimal_places=2, help_text="Fees taken (posted ledger entries)."
    )
    net = serializers.DecimalField(
        max_digits=16,
        decimal_places=2,
        help_text="What they did to your balance by the ledger: credited (positive) or "
        "debited (negative); 0 while nothing is settled.",
    )
