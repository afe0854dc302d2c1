"""What every adapter wraps its operator calls in: retries with backoff, a circuit breaker,
and one HTTP transport that classifies failures by whether the request can have arrived.

Tuning is per operator, read from the flat settings `<OPERATOR>_RETRY_ATTEMPTS`,
`<OPERATOR>_BREAKER_FAIL_MAX`, `<OPERATOR>_CONNECT_TIMEOUT`, … (gateway/operator_settings.py
builds them), at call time, so a test or an operator change takes effect without a restart.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any, TypeVar

import requests
import tenacity
from circuitbreaker import CircuitBreaker  # type: ignore[import-untyped]  # no type hints
from django.conf import settings
from django.utils import timezone

from providers import breakers, metrics
from providers.base import (
    FailureCode,
    Operation,
    OutcomeUnknownError,
    Provider,
    ProviderCall,
    ProviderError,
    ProviderResult,
    ProviderUnavailable,
    RetryableError,
    UnknownReference,
)

T = TypeVar("T")
REDACTED = "[redacted]"
USER_AGENT = "zm-payment-gateway/1.0"


def tuning(provider: Provider | str, name: str) -> Any:
    """`<OPERATOR>_<NAME>` from the settings, e.g. tuning("airtel", "RETRY_ATTEMPTS")."""
    return getattr(settings, f"{Provider(provider).value.upper()}_{name}")


def _is_system_failure(exc_type: type[BaseException], exc: BaseException) -> bool:
    # What says the operator is sick: not a business refusal, not our own fail-fast, and not
    # a status check's clear "no such reference" (the operator answered).
    return issubclass(exc_type, RetryableError | OutcomeUnknownError) and not issubclass(
        exc_type, ProviderUnavailable | UnknownReference
    )


class Resilience:
    """One per (operator, mode) adapter: its breaker and its retry policy."""

    def __init__(self, *, provider: Provider, mode: str) -> None:
        self.provider = provider
        self.mode = mode
        self.breaker = CircuitBreaker(
            failure_threshold=tuning(provider, "BREAKER_FAIL_MAX"),
            recovery_timeout=tuning(provider, "BREAKER_RESET_SECONDS"),
            expected_exception=_is_system_failure,
            name=f"{provider.value}-{mode}",
        )

    def state(self) -> str:
        return str(self.breaker.state)

    def guarded(self, call: Callable[[], T]) -> T:
        if self.breaker.opened:
            raise ProviderUnavailable(
                f"{self.provider.label} is failing; calls are paused",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                retry_after=max(1, self.breaker.open_remaining),
            )
        before = self.breaker.state
        try:
            with self.breaker:
                return call()
        finally:
            if self.breaker.state != before:
                breakers.publish(self.provider, self.mode, self.breaker.state)

    def with_retries(self, call: Callable[[], T]) -> T:
        """Retry transient failures with backoff and jitter, behind the circuit breaker.

        Repeating a money-moving call is safe only because its reference never changes.
        Every attempt's exchanges end up on the result or the error, for the timeline.
        """
        calls: list[ProviderCall] = []

        def attempt() -> T:
            try:
                outcome = self.guarded(call)
            except ProviderError as exc:
                calls.extend(exc.calls)
                raise
            if isinstance(outcome, ProviderResult):
                calls.extend(outcome.calls)
            return outcome

        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception(
                lambda exc: (
                    isinstance(exc, RetryableError) and not isinstance(exc, ProviderUnavailable)
                )
            ),
            stop=tenacity.stop_after_attempt(tuning(self.provider, "RETRY_ATTEMPTS")),
            wait=tenacity.wait_exponential_jitter(
                multiplier=tuning(self.provider, "RETRY_INITIAL_SECONDS"),
                max=tuning(self.provider, "RETRY_MAX_SECONDS"),
            ),
            reraise=True,
        )
        try:
            outcome = retrying(attempt)
        except ProviderError as exc:
            exc.calls = calls
            raise
        if isinstance(outcome, ProviderResult):
            return dataclasses.replace(outcome, calls=calls)
        return outcome


# --- a request the operator never received ---------------------------------------------


def never_arrived(submitted_at: datetime | None, *, after_seconds: float) -> bool:
    """Whether an enquiry's "not found" now means that our last send never reached the
    operator: it is at least `after_seconds` old. False when we cannot tell when we sent."""
    if submitted_at is None:
        return False
    return (timezone.now() - submitted_at).total_seconds() >= after_seconds


# --- HTTP -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    status: int
    body: Any
    call: ProviderCall
    headers: dict[str, str] = dataclasses.field(default_factory=dict)


def decode(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


class Transport:
    """One session per adapter; transport failures classified once, by whether the request
    can have reached the operator: a refused or timed-out *connection* never sent anything
    (retryable); a *read* timeout or a dropped connection after sending may hide an accepted
    payment (outcome unknown for a call that may have an effect)."""

    def __init__(
        self, *, provider: Provider, base_url: str, secret_headers: Collection[str] = ()
    ) -> None:
        self.provider = provider
        self.base_url = base_url.rstrip("/")
        self.secret_headers = {"authorization", *(name.lower() for name in secret_headers)}
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT

    def send(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        read_timeout: float,
        may_have_effect: bool,
        body: Any = None,
        raw_body: str | None = None,
        shown_body: Any = None,
        auth: tuple[str, str] | None = None,
    ) -> Exchange:
        """`raw_body` is sent as it is (a signed body must be the exact bytes signed);
        `shown_body` replaces the body on the timeline (a secret field masked)."""
        label = self.provider.label
        url = f"{self.base_url}{path}"
        data = (
            raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        )
        if data is not None:
            headers = {**headers, "Content-Type": "application/json"}
        shown_headers = {
            name: REDACTED if name.lower() in self.secret_headers else value
            for name, value in headers.items()
        }
        recorded_body = shown_body if shown_body is not None else body
        started = time.perf_counter()

        def record(status: int | None, response_body: Any, error: str = "") -> ProviderCall:
            seconds = time.perf_counter() - started
            metrics.observe(
                provider=self.provider,
                operation=operation,
                seconds=seconds,
                status=status,
                error=error,
            )
            return ProviderCall(
                operation=operation,
                method=method,
                url=url,
                request_headers=shown_headers,
                request_body=recorded_body,
                status_code=status,
                response_body=response_body,
                duration_ms=round(seconds * 1000, 1),
                error=error,
            )

        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                data=data,
                auth=auth,
                timeout=(tuning(self.provider, "CONNECT_TIMEOUT"), read_timeout),
            )
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            # Nothing was sent (or accepted over a failed handshake): safe to repeat.
            raise RetryableError(
                f"{label} connection failed: {type(exc).__name__}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[record(None, None, "connect_timeout")],
            ) from exc
        except requests.ReadTimeout as exc:
            if may_have_effect:
                raise OutcomeUnknownError(
                    f"{label} did not answer in time; the request may have been accepted",
                    calls=[record(None, None, "read_timeout")],
                ) from exc
            raise RetryableError(
                f"{label} did not answer in time",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[record(None, None, "read_timeout")],
            ) from exc
        except requests.ConnectionError as exc:
            refused = "NewConnectionError" in repr(exc) or "Connection refused" in str(exc)
            if may_have_effect and not refused:
                raise OutcomeUnknownError(
                    f"The connection to {label} dropped after the request was sent",
                    calls=[record(None, None, "connection_dropped")],
                ) from exc
            raise RetryableError(
                f"{label} could not be reached",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[record(None, None, "connection_refused" if refused else "connection")],
            ) from exc
        decoded = decode(response)
        return Exchange(
            status=response.status_code,
            body=decoded,
            call=record(response.status_code, decoded),
            headers=dict(response.headers),
        )
