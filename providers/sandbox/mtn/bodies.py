"""MTN's JSON bodies for stored transactions: the status object (§1.5) and the callback."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from providers.sandbox.models import MtnKind, MtnStatus, MtnTransaction


def amount_text(amount: Decimal) -> str:
    # "100" rather than "100.00", as MTN echoes amounts.
    return format(amount.normalize(), "f")


def status_body(row: MtnTransaction, *, status: MtnStatus) -> dict[str, Any]:
    """The status object of §1.5 for `status`, in MTN's key order: `financialTransactionId`
    only once SUCCESSFUL, `reason` only when FAILED; `payer` or `payee` by kind."""
    body: dict[str, Any] = {"amount": amount_text(row.amount), "currency": row.currency}
    if status == MtnStatus.SUCCESSFUL:
        body["financialTransactionId"] = row.financial_transaction_id
    body["externalId"] = row.external_id
    if row.party_id:
        role = "payer" if row.kind == MtnKind.REQUEST_TO_PAY else "payee"
        body[role] = {"partyIdType": row.party_id_type, "partyId": row.party_id}
    body["payerMessage"] = row.payer_message
    body["payeeNote"] = row.payee_note
    body["status"] = status.value
    if status == MtnStatus.FAILED:
        body["reason"] = row.reason
    return body


def callback_body(row: MtnTransaction) -> dict[str, Any]:
    """What MTN POSTs: the final status object, without referenceId (observed, §1.7), and
    without payerMessage, which the observed callbacks did not carry."""
    status = MtnStatus(row.callback_status or row.final_status)
    body = status_body(row, status=status)
    body.pop("payerMessage")
    return body
