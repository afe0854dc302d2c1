"""HTTP to the MTN MoMo Open API: one session, explicit timeouts, cached OAuth tokens.

Transport failures are classified here, once, by whether the request can have reached MTN:
a refused or timed-out *connection* never sent anything (retryable); a *read* timeout or a
dropped connection after sending may hide an accepted payment (outcome unknown for a POST).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
import tenacity
from django.conf import settings

from providers.base import (
    ConfigurationError,
    FailureCode,
    Operation,
    OutcomeUnknownError,
    ProviderCall,
    RetryableError,
)
from providers.mtn import errors

USER_AGENT = "zm-payment-gateway/1.0"
_REDACTED = "[redacted]"
_SECRET_HEADERS = {"authorization", "ocp-apim-subscription-key"}
PRODUCTS = ("collection", "disbursement")


@dataclass(frozen=True)
class Exchange:
    status: int
    body: Any
    call: ProviderCall


@dataclass
class _Token:
    value: str
    refresh_at: float  # time.monotonic() after which a new token is fetched


def _decode(response: requests.Response) -> Any:
    if not response.content:
        return None
    try:
        return response.json()
    except ValueError:
        return response.text[:2000]


class MtnClient:
    """One per mode. Thread-safe: tokens are fetched under a lock, one product at a time."""

    def __init__(self, *, mode: str, config: dict[str, str]) -> None:
        self.mode = mode
        self.config = config
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        self._tokens: dict[str, _Token] = {}
        self._token_lock = threading.Lock()

    def subscription_key(self, product: str) -> str:
        key = self.config[f"{product.upper()}_SUBSCRIPTION_KEY"]
        if not key or not self.config["API_USER"] or not self.config["API_KEY"]:
            raise ConfigurationError(
                f"MTN {self.mode} credentials are not configured (MTN_{self.mode.upper()}_*)"
            )
        return key

    # --- tokens -------------------------------------------------------------------------------

    def token(self, product: str) -> str:
        with self._token_lock:
            cached = self._tokens.get(product)
            if cached is None or time.monotonic() >= cached.refresh_at:
                cached = self._fetch_token(product)
                self._tokens[product] = cached
            return cached.value

    def forget_token(self, product: str) -> None:
        with self._token_lock:
            self._tokens.pop(product, None)

    @tenacity.retry(
        retry=tenacity.retry_if_exception_type(RetryableError),
        stop=tenacity.stop_after_attempt(3),
        wait=tenacity.wait_exponential_jitter(multiplier=0.2, max=2),
        reraise=True,
    )
    def _fetch_token(self, product: str) -> _Token:
        exchange = self._send(
            Operation.TOKEN,
            "POST",
            f"/{product}/token/",
            headers={"Ocp-Apim-Subscription-Key": self.subscription_key(product)},
            auth=(self.config["API_USER"], self.config["API_KEY"]),
            read_timeout=settings.MTN_READ_TIMEOUT_TOKEN,
            may_have_effect=False,
        )
        body = exchange.body
        if exchange.status != 200 or not isinstance(body, dict) or "access_token" not in body:
            raise errors.classify_response(
                status=exchange.status, body=body, is_status_read=False, calls=[]
            )
        lifetime = float(body.get("expires_in") or 3600)
        # MTN advises renewing about ten minutes before expiry; never one token per call.
        margin = min(600.0, lifetime / 6)
        return _Token(
            value=str(body["access_token"]), refresh_at=time.monotonic() + lifetime - margin
        )

    # --- product calls ------------------------------------------------------------------------

    def call(
        self,
        operation: Operation,
        product: str,
        method: str,
        path: str,
        *,
        read_timeout: float,
        reference: str | None = None,
        callback_url: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> Exchange:
        """One authenticated product call; a 401 refreshes the token and retries once."""
        for attempt in (1, 2):
            headers = {
                "Authorization": f"Bearer {self.token(product)}",
                "Ocp-Apim-Subscription-Key": self.subscription_key(product),
                "X-Target-Environment": self.config["TARGET_ENVIRONMENT"],
            }
            if reference is not None:
                headers["X-Reference-Id"] = reference
            if callback_url is not None:
                headers["X-Callback-Url"] = callback_url
            exchange = self._send(
                operation,
                method,
                path,
                headers=headers,
                body=body,
                read_timeout=read_timeout,
                may_have_effect=method == "POST",
            )
            if exchange.status != 401 or attempt == 2:
                return exchange
            self.forget_token(product)  # expired or revoked early: fetch a fresh one
        raise AssertionError("unreachable")  # pragma: no cover

    def _send(
        self,
        operation: Operation,
        method: str,
        path: str,
        *,
        headers: dict[str, str],
        read_timeout: float,
        may_have_effect: bool,
        body: dict[str, Any] | None = None,
        auth: tuple[str, str] | None = None,
    ) -> Exchange:
        url = f"{self.config['BASE_URL']}{path}"
        if body is not None:
            headers = {**headers, "Content-Type": "application/json"}
        shown_headers = {
            name: _REDACTED if name.lower() in _SECRET_HEADERS else value
            for name, value in headers.items()
        }
        started = time.perf_counter()

        def record(status: int | None, response_body: Any, error: str = "") -> ProviderCall:
            return ProviderCall(
                operation=operation,
                method=method,
                url=url,
                request_headers=shown_headers,
                request_body=body,
                status_code=status,
                response_body=response_body,
                duration_ms=round((time.perf_counter() - started) * 1000, 1),
                error=error,
            )

        try:
            response = self.session.request(
                method,
                url,
                headers=headers,
                data=json.dumps(body) if body is not None else None,
                auth=auth,
                timeout=(settings.MTN_CONNECT_TIMEOUT, read_timeout),
            )
        except (requests.ConnectTimeout, requests.exceptions.SSLError) as exc:
            # Nothing was sent (or accepted over a failed handshake): safe to repeat.
            raise RetryableError(
                f"MTN connection failed: {type(exc).__name__}",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[record(None, None, "connect_timeout")],
            ) from exc
        except requests.ReadTimeout as exc:
            if may_have_effect:
                raise OutcomeUnknownError(
                    "MTN did not answer in time; the request may have been accepted",
                    calls=[record(None, None, "read_timeout")],
                ) from exc
            raise RetryableError(
                "MTN did not answer in time",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[record(None, None, "read_timeout")],
            ) from exc
        except requests.ConnectionError as exc:
            refused = "NewConnectionError" in repr(exc) or "Connection refused" in str(exc)
            if may_have_effect and not refused:
                raise OutcomeUnknownError(
                    "The connection to MTN dropped after the request was sent",
                    calls=[record(None, None, "connection_dropped")],
                ) from exc
            raise RetryableError(
                "MTN could not be reached",
                failure_code=FailureCode.PROVIDER_UNAVAILABLE,
                calls=[record(None, None, "connection_refused" if refused else "connection")],
            ) from exc
        decoded = _decode(response)
        return Exchange(
            status=response.status_code, body=decoded, call=record(response.status_code, decoded)
        )
