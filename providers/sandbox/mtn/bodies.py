"""MTN's JSON bodies for stored transactions: the status object of each kind (§1.5 and MTN's
collection v2 and remittance v2 references), the callback, the holder's user info."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

from providers.sandbox.mtn import scenarios
from providers.sandbox.mtn.models import MtnKind, MtnStatus, MtnTransaction

# The v2 resources report a failure as an object (MTN's ErrorReason), v1 as a plain string.
_REASON_MESSAGES = {
    "APPROVAL_REJECTED": "The payer rejected the request.",
    "EXPIRED": "The payer did not answer in time.",
    "NOT_ENOUGH_FUNDS": "The payer does not have enough funds.",
}


# Kinds whose status object has its own shape, not §1.5's.
_OWN_SHAPES = frozenset({MtnKind.PREAPPROVAL, MtnKind.INVOICE, MtnKind.PAYMENT})


def amount_text(amount: Decimal) -> str:
    # "100" rather than "100.00", as MTN echoes amounts.
    return format(amount.normalize(), "f")


def _timestamp(row: MtnTransaction, seconds: int) -> str:
    moment = row.created_at + timedelta(seconds=seconds)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _error_reason(row: MtnTransaction) -> dict[str, str]:
    return {"code": row.reason, "message": _REASON_MESSAGES.get(row.reason, row.reason)}


def status_body(row: MtnTransaction, *, status: MtnStatus) -> dict[str, Any]:
    """The status GET's body for `status`, in MTN's key order."""
    shape = {
        MtnKind.PREAPPROVAL: _preapproval_body,
        MtnKind.INVOICE: _invoice_body,
        MtnKind.PAYMENT: _payment_body,
    }.get(MtnKind(row.kind), _transaction_body)
    return shape(row, status=status)


def _transaction_body(row: MtnTransaction, *, status: MtnStatus) -> dict[str, Any]:
    """§1.5: `financialTransactionId` only once SUCCESSFUL, `reason` only when FAILED;
    `payer` or `payee` by kind; a cash transfer echoes its sender's details too."""
    assert row.amount is not None  # noqa: S101  # only a pre-approval has none
    body: dict[str, Any] = {"amount": amount_text(row.amount), "currency": row.currency}
    if status == MtnStatus.SUCCESSFUL:
        body["financialTransactionId"] = row.financial_transaction_id
    body["externalId"] = row.external_id
    if row.party_id:
        role = "payer" if row.kind in scenarios.PAYER_KINDS else "payee"
        body[role] = {"partyIdType": row.party_id_type, "partyId": row.party_id}
    body.update(row.details)
    body["payerMessage"] = row.payer_message
    body["payeeNote"] = row.payee_note
    body["status"] = status.value
    if status == MtnStatus.FAILED:
        body["reason"] = row.reason
    return body


def _preapproval_body(row: MtnTransaction, *, status: MtnStatus) -> dict[str, Any]:
    body: dict[str, Any] = {
        "payer": {"partyIdType": row.party_id_type, "partyId": row.party_id},
        "payerCurrency": row.currency,
        "payerMessage": row.payer_message,
        "status": status.value,
    }
    if "validityTime" in row.details:
        body["expirationDateTime"] = _timestamp(row, row.details["validityTime"])
    if status == MtnStatus.FAILED:
        body["reason"] = _error_reason(row)
    return body


def _invoice_body(row: MtnTransaction, *, status: MtnStatus) -> dict[str, Any]:
    assert row.amount is not None  # noqa: S101  # parsing requires one
    body: dict[str, Any] = {
        "referenceId": str(row.reference_id),
        "externalId": row.external_id,
        "amount": amount_text(row.amount),
        "currency": row.currency,
        "status": status.value,
        "paymentReference": row.financial_transaction_id,
        "invoiceId": str(row.pk),
        "expiryDateTime": _timestamp(row, int(row.details["validityDuration"])),
        "intendedPayer": {"partyIdType": row.party_id_type, "partyId": row.party_id},
        "description": row.details.get("description", ""),
    }
    if status == MtnStatus.FAILED:
        body["errorReason"] = _error_reason(row)
    return body


def _payment_body(row: MtnTransaction, *, status: MtnStatus) -> dict[str, Any]:
    body: dict[str, Any] = {"referenceId": str(row.reference_id), "status": status.value}
    if status == MtnStatus.SUCCESSFUL:
        body["financialTransactionId"] = row.financial_transaction_id
    if status == MtnStatus.FAILED:
        body["reason"] = _error_reason(row)
    return body


def callback_body(row: MtnTransaction) -> dict[str, Any]:
    """What MTN sends: the final status object, without referenceId (observed, §1.7), and
    for v1 transactions without payerMessage, which the observed callbacks did not carry."""
    status = MtnStatus(row.callback_status or row.final_status)
    body = status_body(row, status=status)
    if row.kind not in _OWN_SHAPES:
        body.pop("payerMessage")
    return body


def user_info_body(msisdn: str, *, active: bool) -> dict[str, Any]:
    """The holder's KYC names, as basicuserinfo and the consent flow's userinfo give them."""
    given, family = scenarios.holder_names(msisdn)
    return {
        "sub": msisdn,
        "name": f"{given} {family}",
        "given_name": given,
        "family_name": family,
        "birthdate": "1976-08-13",
        "locale": "en_ZM",
        "gender": "MALE",
        "phone_number": msisdn,
        "phone_number_verified": True,
        "status": "ACTIVE" if active else "INACTIVE",
    }
