"""Operator statements as the operators' exports lay them out (docs/reconciliation.md)."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from zoneinfo import ZoneInfo

MTN_HEADER = [
    "Id",
    "External Transaction Id",
    "Date",
    "Status",
    "Type",
    "Provider Category",
    "Information",
    "Note / Message",
    "From",
    "From Name",
    "From Handler Name",
    "To",
    "To Name",
    "To Handler Name",
    "Initiated By",
    "On Behalf Of",
    "Amount",
    "Currency",
    "Fee",
    "Currency",
    "Discount",
    "Currency",
    "Promotion",
    "Currency",
    "Coupon",
    "Currency",
    "Balance",
    "Currency",
]
LUSAKA = ZoneInfo("Africa/Lusaka")


def lusaka(moment: datetime) -> str:
    return moment.astimezone(LUSAKA).strftime("%Y-%m-%d %H:%M:%S")


def mtn_line(
    *, transaction_id: str, reference: str, amount: str, status: str, at: datetime
) -> list[str]:
    """A collection as MoMo lists it: the customer's wallet pays the merchant's."""
    row = dict.fromkeys(range(len(MTN_HEADER)), "")
    values = {
        0: transaction_id,
        1: reference,
        2: lusaka(at),
        3: status,
        4: "DEBIT",
        8: "FRI:260961234567/MSISDN",
        9: "Customer",
        11: "FRI:gateway.sp/USER",
        12: "Gateway",
        16: amount,
        17: "ZMW",
        18: "0",
        19: "ZMW",
        26: "1000000.00",
        27: "ZMW",
    }
    row.update(values)
    return [row[index] for index in range(len(MTN_HEADER))]


def csv_text(header: list[str], lines: list[list[str]]) -> list[str]:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(lines)
    return buffer.getvalue().splitlines(keepends=True)
