"""The MTN MoMo adapter: our interface on top of MTN's collection and disbursement APIs."""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings

from gateway import errors as gateway_errors
from gateway import jsonbody
from providers.base import (
    AccountHolder,
    Balance,
    CallbackHint,
    Capabilities,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    Provider,
    ProviderAdapter,
    ProviderCall,
    ProviderResult,
    RefundSupport,
)
from providers.mtn import errors
from providers.mtn.client import Exchange, MtnClient
from providers.resilience import Resilience, tuning

# Where each money-moving operation lives, and the party it names.
_ROUTES: dict[Operation, tuple[str, str, str]] = {
    Operation.REQUEST_PAYMENT: ("collection", "/collection/v1_0/requesttopay", "payer"),
    Operation.SEND_PAYOUT: ("disbursement", "/disbursement/v1_0/transfer", "payee"),
    Operation.REFUND: ("disbursement", "/disbursement/v1_0/refund", "payee"),
}
# MTN rejects apostrophes and other "odd characters" in notes with a 400 (providers.md §1.4).
_NOTE_UNSAFE = re.compile(r"[^A-Za-z0-9 .,:;()/#&+\-_]")
_NOTE_MAX = 160


def _amount(value: Decimal) -> str:
    """MTN takes amounts as strings; send at most two decimals, none when whole."""
    quantized = value.quantize(Decimal("0.01"))
    return f"{quantized:f}".removesuffix(".00")


def _note(text: str) -> str:
    return _NOTE_UNSAFE.sub("", text)[:_NOTE_MAX].strip() or "Payment"


def _result_from_status(body: Any, calls: list[ProviderCall]) -> ProviderResult:
    if not isinstance(body, dict):
        raise OutcomeUnknownError("MTN's status answer has no body", calls=calls)
    status = str(body.get("status", "")).upper()
    if status == "SUCCESSFUL":
        transaction_id = body.get("financialTransactionId")
        return ProviderResult(
            outcome=Outcome.SUCCESSFUL,
            provider_transaction_id=str(transaction_id) if transaction_id else None,
            calls=calls,
        )
    if status == "FAILED":
        reason = errors.error_code(body)
        return ProviderResult(
            outcome=Outcome.FAILED,
            failure_code=errors.failure_code_for(reason),
            failure_message=reason or "FAILED without a reason",
            calls=calls,
        )
    # PENDING, and CREATED (seen on MTN's sandbox): not decided yet.
    return ProviderResult(outcome=Outcome.PENDING, calls=calls)


class MtnAdapter(ProviderAdapter):
    provider = Provider.MTN
    capabilities = Capabilities(
        refunds=RefundSupport.PARTIAL,
        balance=True,
        kyc_name=True,
        max_amount=Decimal("100000.00"),  # the Tier 2 daily limit (providers.md §0)
        decimals=2,
        ussd_code="*115#",
    )

    def __init__(self, *, mode: str, config: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.client = MtnClient(mode=mode, config=config or settings.MTN[mode])
        self.resilience = Resilience(provider=Provider.MTN, mode=mode)
        self.breaker = self.resilience.breaker
        self._with_retries = self.resilience.with_retries

    # --- money --------------------------------------------------------------------------------

    def request_payment(self, instruction: PaymentInstruction) -> ProviderResult:
        return self._submit(instruction, Operation.REQUEST_PAYMENT)

    def send_payout(self, instruction: PaymentInstruction) -> ProviderResult:
        return self._submit(instruction, Operation.SEND_PAYOUT)

    def refund(self, instruction: PaymentInstruction) -> ProviderResult:
        if instruction.refund_of_reference is None:
            raise PermanentError("A refund must name the collection it refunds")
        return self._submit(instruction, Operation.REFUND)

    def _submit(self, instruction: PaymentInstruction, operation: Operation) -> ProviderResult:
        product, path, party = _ROUTES[operation]
        note = _note(instruction.note)
        body: dict[str, Any] = {
            "amount": _amount(instruction.amount),
            "currency": self.client.config["CURRENCY"] or instruction.currency,
            "externalId": instruction.external_id,
            party: {"partyIdType": "MSISDN", "partyId": instruction.msisdn},
            "payerMessage": note,
            "payeeNote": note,
        }
        if operation is Operation.REFUND:
            body["referenceIdToRefund"] = str(instruction.refund_of_reference)

        def send() -> ProviderResult:
            exchange = self.client.call(
                operation,
                product,
                "POST",
                path,
                reference=str(instruction.reference),
                callback_url=instruction.callback_url,
                body=body,
                read_timeout=tuning(Provider.MTN, "READ_TIMEOUT_PAYMENT"),
            )
            # 409 RESOURCE_ALREADY_EXIST: an earlier attempt with this reference got through.
            if exchange.status in (202, 409):
                return ProviderResult(outcome=Outcome.PENDING, calls=[exchange.call])
            raise errors.classify_response(
                status=exchange.status,
                body=exchange.body,
                is_status_read=False,
                calls=[exchange.call],
            )

        # Repeating the POST is safe only because the reference never changes.
        return self._with_retries(send)

    # --- reads --------------------------------------------------------------------------------

    def fetch_status(self, instruction: PaymentInstruction) -> ProviderResult:
        product, path, _ = _ROUTES[instruction.operation]

        def read() -> ProviderResult:
            exchange = self._read(
                Operation.FETCH_STATUS, product, f"{path}/{instruction.reference}"
            )
            return _result_from_status(exchange.body, [exchange.call])

        return self._with_retries(read)

    def balance(self) -> Balance:
        exchange = self._with_retries(
            lambda: self._read(Operation.BALANCE, "collection", "/collection/v1_0/account/balance")
        )
        body = exchange.body if isinstance(exchange.body, dict) else {}
        return Balance(
            available=Decimal(str(body.get("availableBalance", "0"))),
            currency=str(body.get("currency", "")),
        )

    def account_holder(self, msisdn: str) -> AccountHolder:
        base = f"/collection/v1_0/accountholder/msisdn/{msisdn}"
        try:
            active = self._with_retries(
                lambda: self._read(Operation.ACCOUNT_HOLDER, "collection", f"{base}/active")
            )
        except PermanentError as exc:
            # unknown holder: 404 on some APIs
            return AccountHolder(msisdn=msisdn, active=False, calls=exc.calls)
        is_active = isinstance(active.body, dict) and active.body.get("result") is True
        if not is_active:
            return AccountHolder(msisdn=msisdn, active=False, calls=[active.call])
        try:
            info = self._with_retries(
                lambda: self._read(Operation.ACCOUNT_HOLDER, "collection", f"{base}/basicuserinfo")
            )
        except PermanentError as exc:  # names are optional extras
            return AccountHolder(msisdn=msisdn, active=True, calls=[active.call, *exc.calls])
        names = info.body if isinstance(info.body, dict) else {}
        return AccountHolder(
            msisdn=msisdn,
            active=True,
            given_name=names.get("given_name"),
            family_name=names.get("family_name"),
            calls=[active.call, info.call],
        )

    def _read(self, operation: Operation, product: str, path: str) -> Exchange:
        exchange = self.client.call(
            operation,
            product,
            "GET",
            path,
            read_timeout=tuning(Provider.MTN, "READ_TIMEOUT_STATUS"),
        )
        if exchange.status != 200:
            raise errors.classify_response(
                status=exchange.status,
                body=exchange.body,
                is_status_read=True,
                calls=[exchange.call],
            )
        return exchange

    # --- callbacks ----------------------------------------------------------------------------

    def parse_callback(self, body: bytes) -> CallbackHint:
        """MTN's callback is the status object without the reference (providers.md §1.7)."""
        try:
            payload = jsonbody.loads(body)
        except gateway_errors.MalformedRequest as exc:  # not JSON, too deep, NUL, surrogates
            raise PermanentError(f"The callback body is not acceptable JSON: {exc.detail}") from exc
        if not isinstance(payload, dict) or "status" not in payload:
            raise PermanentError("The callback has no status")
        result = _result_from_status(payload, [])
        return CallbackHint(
            claimed_outcome=result.outcome,
            external_id=payload.get("externalId"),
            provider_transaction_id=result.provider_transaction_id,
            reason=errors.error_code(payload),
        )

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool | None:
        """MTN signs nothing (providers.md §1.7). With MTN_WEBHOOK_SECRET set (a proxy of
        ours that signs), X-Signature-256 must be the hex HMAC-SHA256 of the raw body."""
        secret: str = settings.MTN_WEBHOOK_SECRET
        if not secret:
            return None
        expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        given = headers.get("X-Signature-256", "").removeprefix("sha256=")
        return hmac.compare_digest(expected.encode(), given.encode("utf-8", "backslashreplace"))

    @classmethod
    def callbacks_are_signed(cls) -> bool:
        return bool(settings.MTN_WEBHOOK_SECRET)

    # --- resilience ---------------------------------------------------------------------------

    def breaker_state(self) -> str:
        return self.resilience.state()
