"""The Zamtel Kwacha adapter, on an ASSUMED contract (providers/zamtel/codes.py says why).

No first-hand Zamtel API documentation was found. What public client code shows of Zamtel's
own HTTP front (ZampayRest: GET requests carrying the password in the query string, blocking
until the customer answers) is not a contract to build money movement on, so this adapter
speaks a contract modelled on pawaPay's v2 API (an aggregator that carries Zamtel), which
the built-in simulator implements. A real specification replaces this module behind the
same ProviderAdapter interface; nothing outside it knows the wire format.

- A static bearer token per mode (`Authorization: Bearer …`), redacted on the timeline; no
  credential ever goes into a URL (the recorded URL is safe to show and to log).
- Our id at Zamtel (depositId, payoutId, refundId) is the payment's reference, a UUIDv4,
  fixed for life: a reused id is answered DUPLICATE_IGNORED (an earlier attempt arrived),
  and an unknown outcome is enquired with it, never resent with a new one. An id the enquiry
  still does not know NOT_FOUND_MARGIN_SECONDS after our last send never arrived: the
  enquiry raises `UnknownReference`, and the payments service may send it again with the
  same id (a duplicate is ignored, so nothing moves twice).
- Amounts are strings with exactly two decimals; the phone number is 260… (12 digits).
- Callbacks go to the payment's own URL (`callbackUrl`, per request) and are signed with
  HTTP Message Signatures (RFC 9421, HMAC-SHA256, providers/zamtel/signing.py), checked here.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from django.conf import settings

from gateway import errors as gateway_errors
from gateway import jsonbody
from providers import resilience
from providers.base import (
    AccountHolder,
    Balance,
    CallbackHint,
    Capabilities,
    ConfigurationError,
    FailureCode,
    Operation,
    Outcome,
    OutcomeUnknownError,
    PaymentInstruction,
    PermanentError,
    Provider,
    ProviderAdapter,
    ProviderResult,
    RefundSupport,
    RetryableError,
    UnknownReference,
)
from providers.resilience import Exchange, Resilience, Transport, tuning
from providers.zamtel import codes, signing
from providers.zamtel.codes import Verdict

# Where each operation lives, its id field, and the party it names.
_ROUTES: dict[Operation, tuple[str, str, str]] = {
    Operation.REQUEST_PAYMENT: ("/v2/deposits", "depositId", "payer"),
    Operation.SEND_PAYOUT: ("/v2/payouts", "payoutId", "recipient"),
    Operation.REFUND: ("/v2/refunds", "refundId", ""),
}
# A refund's callback names its deposit too: its own id is looked for first.
_ID_FIELDS = ("refundId", "payoutId", "depositId")
_MESSAGE_UNSAFE = re.compile(r"[^A-Za-z0-9 ]")


def _amount(value: Decimal) -> str:
    return f"{value.quantize(Decimal('0.01')):f}"


def _obj(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _failure(body: dict[str, Any]) -> tuple[str, str]:
    """(failureCode, failureMessage) of an answer; `rejectionReason` is the older name."""
    reason = _obj(body.get("failureReason") or body.get("rejectionReason"))
    code = str(reason.get("failureCode") or reason.get("rejectionCode") or "")
    message = str(reason.get("failureMessage") or reason.get("rejectionMessage") or code)
    return code.upper(), message


class _UnknownId(OutcomeUnknownError):
    """The enquiry does not know our id (yet)."""


class ZamtelAdapter(ProviderAdapter):
    provider = Provider.ZAMTEL
    capabilities = Capabilities(
        refunds=RefundSupport.PARTIAL,
        balance=True,
        kyc_name=False,  # the assumed contract says whether a wallet is active, not whose
        max_amount=Decimal("100000.00"),  # Zamtel's limits are not published (unconfirmed)
        decimals=2,
        ussd_code="*115#",  # Zamtel Kwacha's menu (unconfirmed)
        callback_url_per_payment=True,
    )

    def __init__(self, *, mode: str, config: dict[str, str] | None = None) -> None:
        self.mode = mode
        self.config = config or settings.ZAMTEL[mode]
        self.transport = Transport(provider=Provider.ZAMTEL, base_url=self.config["BASE_URL"])
        self.resilience = Resilience(provider=Provider.ZAMTEL, mode=mode)
        self.breaker = self.resilience.breaker

    # --- money --------------------------------------------------------------------------------

    def request_payment(self, instruction: PaymentInstruction) -> ProviderResult:
        return self._submit(instruction, Operation.REQUEST_PAYMENT)

    def send_payout(self, instruction: PaymentInstruction) -> ProviderResult:
        return self._submit(instruction, Operation.SEND_PAYOUT)

    def refund(self, instruction: PaymentInstruction) -> ProviderResult:
        if instruction.refund_of_reference is None:
            raise PermanentError("A Zamtel refund needs the collection's reference")
        return self._submit(instruction, Operation.REFUND)

    def body(self, instruction: PaymentInstruction, operation: Operation) -> dict[str, Any]:
        _, id_field, party = _ROUTES[operation]
        body: dict[str, Any] = {
            id_field: str(instruction.reference),
            "amount": _amount(instruction.amount),
            "currency": self.config["CURRENCY"],
        }
        if operation is Operation.REFUND:
            body["depositId"] = str(instruction.refund_of_reference)
        else:
            body[party] = {
                "type": "MMO",
                "accountDetails": {
                    "phoneNumber": instruction.msisdn,
                    "provider": self.config["PROVIDER_CODE"],
                },
            }
            body["clientReferenceId"] = instruction.external_id[:64]
            message = _MESSAGE_UNSAFE.sub("", instruction.note).strip()[:22]
            if len(message) >= 4:
                body["customerMessage"] = message
        if instruction.callback_url:
            body["callbackUrl"] = instruction.callback_url
        return body

    def _submit(self, instruction: PaymentInstruction, operation: Operation) -> ProviderResult:
        path = _ROUTES[operation][0]
        body = self.body(instruction, operation)

        def send() -> ProviderResult:
            exchange = self._call(
                operation,
                "POST",
                path,
                body=body,
                read_timeout=tuning(Provider.ZAMTEL, "READ_TIMEOUT_PAYMENT"),
                may_have_effect=True,
            )
            return self._initiation_answer(exchange)

        return self.resilience.with_retries(send)

    def _initiation_answer(self, exchange: Exchange) -> ProviderResult:
        calls = [exchange.call]
        answer = _obj(exchange.body)
        status = str(answer.get("status") or "").upper()
        if exchange.status == 409:
            return ProviderResult(outcome=Outcome.PENDING, calls=calls)  # an earlier attempt
        self._raise_for_transport_status(exchange, may_have_effect=True)
        if exchange.status >= 400 or status == "REJECTED":
            code, message = _failure(answer)
            raise PermanentError(
                f"Zamtel rejected the request: {code or f'HTTP {exchange.status}'} {message}",
                failure_code=codes.failure_code(code),
                calls=calls,
            )
        verdict = codes.INITIATION.get(status)
        if verdict is None:
            raise OutcomeUnknownError(
                f"Zamtel's answer says nothing definite ({status or 'no status'})", calls=calls
            )
        return ProviderResult(outcome=Outcome.PENDING, calls=calls)  # accepted or duplicate

    # --- reads --------------------------------------------------------------------------------

    def fetch_status(self, instruction: PaymentInstruction) -> ProviderResult:
        path = f"{_ROUTES[instruction.operation][0]}/{instruction.reference}"

        def read() -> ProviderResult:
            exchange = self._read(Operation.FETCH_STATUS, path)
            calls = [exchange.call]
            answer = _obj(exchange.body)
            if exchange.status == 404 or str(answer.get("status")).upper() == "NOT_FOUND":
                # Not (yet) there: the request may still be on its way. Never a failure.
                raise _UnknownId("Zamtel does not know this id (yet)", calls=calls)
            data = _obj(answer.get("data"))
            return self.result_of(data, calls)

        try:
            return self.resilience.with_retries(read)
        except _UnknownId as exc:
            margin = float(self.config.get("NOT_FOUND_MARGIN_SECONDS") or 0)
            if not resilience.never_arrived(instruction.submitted_at, after_seconds=margin):
                raise
            # Long after our send: it never arrived. Zamtel ignores a reused id
            # (DUPLICATE_IGNORED), so the service may send it again with the same id.
            raise UnknownReference(
                "Zamtel's enquiry still does not know this id", calls=exc.calls
            ) from exc

    @staticmethod
    def result_of(data: dict[str, Any], calls: list[Any] | None = None) -> ProviderResult:
        status = str(data.get("status") or "").upper()
        verdict = codes.STATUSES.get(status)
        if verdict is Verdict.SUCCESS:
            ident = data.get("providerTransactionId")
            return ProviderResult(
                outcome=Outcome.SUCCESSFUL,
                provider_transaction_id=str(ident) if ident else None,
                calls=calls or [],
            )
        if verdict is Verdict.FAILED:
            code, message = _failure(data)
            return ProviderResult(
                outcome=Outcome.FAILED,
                failure_code=codes.failure_code(code),
                failure_message=message or "FAILED without a reason",
                calls=calls or [],
            )
        return ProviderResult(outcome=Outcome.PENDING, calls=calls or [])  # unknown: ask again

    def balance(self) -> Balance:
        exchange = self.resilience.with_retries(
            lambda: self._read(Operation.BALANCE, "/v2/wallet-balances")
        )
        balances = _obj(exchange.body).get("balances")
        for entry in balances if isinstance(balances, list) else []:
            entry = _obj(entry)
            if entry.get("currency") == self.config["CURRENCY"]:
                return Balance(
                    available=Decimal(str(entry.get("balance", "0"))),
                    currency=str(entry["currency"]),
                )
        raise PermanentError("Zamtel reported no balance in our currency", calls=[exchange.call])

    def account_holder(self, msisdn: str) -> AccountHolder:
        path = f"/v2/accounts/{msisdn}?provider={self.config['PROVIDER_CODE']}"
        exchange = self.resilience.with_retries(lambda: self._read(Operation.ACCOUNT_HOLDER, path))
        answer = _obj(exchange.body)
        data = _obj(answer.get("data"))
        found = exchange.status == 200 and str(answer.get("status")).upper() == "FOUND"
        return AccountHolder(
            msisdn=msisdn, active=found and data.get("active") is True, calls=[exchange.call]
        )

    def _read(self, operation: Operation, path: str) -> Exchange:
        exchange = self._call(
            operation,
            "GET",
            path,
            read_timeout=tuning(Provider.ZAMTEL, "READ_TIMEOUT_STATUS"),
            may_have_effect=False,
        )
        if exchange.status != 404:
            self._raise_for_transport_status(exchange, may_have_effect=False)
        return exchange

    # --- HTTP -----------------------------------------------------------------------------------

    def _call(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        read_timeout: float,
        may_have_effect: bool,
        body: Any = None,
    ) -> Exchange:
        token = self.config.get("API_TOKEN", "")
        if not token or not self.config.get("BASE_URL"):
            raise ConfigurationError(
                f"Zamtel {self.mode} credentials are not configured "
                f"(ZAMTEL_{self.mode.upper()}_API_TOKEN, ZAMTEL_{self.mode.upper()}_BASE_URL)"
            )
        return self.transport.send(
            operation,
            method,
            path,
            headers={"Authorization": f"Bearer {token}", "Accept": "application/json"},
            body=body,
            read_timeout=read_timeout,
            may_have_effect=may_have_effect,
        )

    def _raise_for_transport_status(self, exchange: Exchange, *, may_have_effect: bool) -> None:
        status, calls = exchange.status, [exchange.call]
        if status in (401, 403):
            # Nothing was done; a static token refused is ours to fix, and shows in health.
            raise RetryableError(
                f"Zamtel refused our token: HTTP {status}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=calls,
            )
        if status in (429, 503):
            raise RetryableError(
                f"Zamtel is unavailable: HTTP {status}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=calls,
                retry_after=_retry_after(exchange),
            )
        if status == 408 or status >= 500:
            if may_have_effect:
                raise OutcomeUnknownError(
                    f"Zamtel answered HTTP {status}; the request may have been taken", calls=calls
                )
            raise RetryableError(
                f"Zamtel answered HTTP {status}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=calls,
            )

    # --- callbacks ----------------------------------------------------------------------------

    @staticmethod
    def _callback_payload(body: bytes) -> dict[str, Any]:
        try:
            payload = jsonbody.loads(body)
        except gateway_errors.MalformedRequest as exc:
            raise PermanentError(f"The callback body is not acceptable JSON: {exc.detail}") from exc
        if not isinstance(payload, dict):
            raise PermanentError("The callback is not an object")
        return payload

    def parse_callback(self, body: bytes) -> CallbackHint:
        payload = self._callback_payload(body)
        result = self.result_of(payload)
        ident = next((payload[f] for f in _ID_FIELDS if payload.get(f)), None)
        code, _ = _failure(payload)
        return CallbackHint(
            claimed_outcome=result.outcome,
            external_id=str(payload.get("clientReferenceId") or ident or "") or None,
            provider_transaction_id=result.provider_transaction_id,
            reason=code or str(payload.get("status") or "") or None,
        )

    @classmethod
    def callback_reference(cls, body: bytes) -> uuid.UUID | None:
        try:
            payload = cls._callback_payload(body)
            ident = next(payload[f] for f in _ID_FIELDS if f in payload)
            return uuid.UUID(str(ident))
        except (PermanentError, StopIteration, ValueError):
            return None

    def verify_callback(self, headers: Mapping[str, str], body: bytes) -> bool | None:
        secret = self.config.get("CALLBACK_SECRET", "")
        if not secret:
            return None
        return signing.verify(secret, headers, body)

    @classmethod
    def callbacks_are_signed(cls) -> bool:
        return any(settings.ZAMTEL[mode].get("CALLBACK_SECRET") for mode in settings.ZAMTEL)

    def breaker_state(self) -> str:
        return self.resilience.state()


def _retry_after(exchange: Exchange) -> float | None:
    value = {k.lower(): v for k, v in exchange.headers.items()}.get("retry-after", "")
    return float(value) if value.isdigit() else None
