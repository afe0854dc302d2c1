"""HTTP to the MTN MoMo Open API: one session, explicit timeouts, cached OAuth tokens.

Transport failures are classified once, for every operator, by providers.resilience.Transport.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import tenacity

from providers.base import ConfigurationError, Operation, Provider, RetryableError
from providers.mtn import errors
from providers.resilience import USER_AGENT, Exchange, Transport, tuning

__all__ = ["PRODUCTS", "USER_AGENT", "Exchange", "MtnClient"]

PRODUCTS = ("collection", "disbursement")


@dataclass
class _Token:
    value: str
    refresh_at: float  # time.monotonic() after which a new token is fetched


class MtnClient:
    """One per mode. Thread-safe: tokens are fetched under a lock, one product at a time."""

    def __init__(self, *, mode: str, config: dict[str, str]) -> None:
        self.mode = mode
        self.config = config
        self.transport = Transport(
            provider=Provider.MTN,
            base_url=config["BASE_URL"],
            secret_headers={"ocp-apim-subscription-key"},
        )
        self.session = self.transport.session
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
            read_timeout=tuning(Provider.MTN, "READ_TIMEOUT_TOKEN"),
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
        return self.transport.send(
            operation,
            method,
            path,
            headers=headers,
            body=body,
            auth=auth,
            read_timeout=read_timeout,
            may_have_effect=may_have_effect,
        )
