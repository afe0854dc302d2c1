"""One POST of a webhook to a merchant: checked target, pinned address, bounded in time.

No transaction may be open around `post` (merchant I/O). It never raises for what the
merchant's side does: every outcome is an `Answer`, and only a 2xx is a success. Redirects are
never followed (a 3xx is a failure: following one would let a checked URL lead anywhere).
urllib3 is used directly rather than requests so that the connection goes to the address
that was checked, with the host name kept for the Host header, SNI and the certificate
check, and no proxy from the environment in between.
"""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import certifi
import urllib3
from urllib3.exceptions import (
    ConnectTimeoutError,
    HTTPError,
    NewConnectionError,
    ReadTimeoutError,
    SSLError,
)

from webhooks.outbound import ssrf
from webhooks.outbound.models import RESPONSE_EXCERPT_CHARS

USER_AGENT = "zm-payment-gateway-webhooks/1"


@dataclass(frozen=True)
class Answer:
    status: int | None  # None: no HTTP answer (see error)
    error: str  # "" for an HTTP answer; else what went wrong, e.g. "timeout: …"
    excerpt: str = ""  # the first 1 KB of the body, as text
    retry_after: float | None = None  # seconds, from Retry-After on a 429 or 503
    duration_ms: float = 0.0

    @property
    def succeeded(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def post(
    *,
    url: str,
    body: bytes,
    headers: dict[str, str],
    connect_timeout: float,
    read_timeout: float,
) -> Answer:
    started = time.perf_counter()

    def answer(status: int | None, error: str, **more: object) -> Answer:
        elapsed = round((time.perf_counter() - started) * 1000, 1)
        return Answer(status, error[:255], duration_ms=elapsed, **more)  # type: ignore[arg-type]  # excerpt, retry_after

    try:
        target = ssrf.check(url)  # again at every attempt: DNS may have changed since
    except ssrf.UrlRefused as exc:
        return answer(None, f"refused: {exc.reason}")
    timeout = urllib3.Timeout(
        connect=connect_timeout, read=read_timeout, total=connect_timeout + read_timeout
    )
    sent = {
        **headers,
        "Host": target.host_header,
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }
    error = ""
    for address in target.addresses:
        pool = _pool(target, address, timeout)
        try:
            response = pool.urlopen(
                "POST",
                target.path,
                body=body,
                headers=sent,
                redirect=False,
                retries=False,
                preload_content=False,
                assert_same_host=False,
                release_conn=False,
            )
        except (ConnectTimeoutError, NewConnectionError) as exc:
            error = f"connect: {_short(exc)}"
            pool.close()
            continue  # nothing was sent: the next checked address may answer
        except ReadTimeoutError:
            pool.close()
            return answer(None, f"timeout: no answer within {read_timeout:g} s")
        except SSLError as exc:
            pool.close()
            return answer(None, f"tls: {_short(exc)}")
        except HTTPError as exc:
            pool.close()
            return answer(None, f"http: {_short(exc)}")
        try:
            excerpt = _excerpt(response)
        finally:
            response.release_conn()
            pool.close()
        retry_after = None
        if response.status in (429, 503):
            retry_after = _retry_after(response.headers.get("Retry-After"))
        return answer(response.status, "", excerpt=excerpt, retry_after=retry_after)
    return answer(None, error or "connect: no address")


def _pool(
    target: ssrf.Target, address: ssrf.IPAddress, timeout: urllib3.Timeout
) -> urllib3.HTTPConnectionPool:
    if target.scheme == "https":
        return urllib3.HTTPSConnectionPool(
            str(address),
            target.port,
            timeout=timeout,
            maxsize=1,
            retries=False,
            cert_reqs="CERT_REQUIRED",
            ca_certs=certifi.where(),
            assert_hostname=target.host,
            server_hostname=target.host,  # SNI and the certificate name: the URL's host
        )
    return urllib3.HTTPConnectionPool(
        str(address), target.port, timeout=timeout, maxsize=1, retries=False
    )


def _excerpt(response: urllib3.BaseHTTPResponse) -> str:
    """The first 1 KB of the body (never more is read), as text PostgreSQL stores."""
    try:
        raw = response.read(RESPONSE_EXCERPT_CHARS, decode_content=False)
    except HTTPError:
        return ""  # a body that stalls or breaks off: the status is what counts
    text = raw.decode("utf-8", "replace").replace("\x00", "")
    return text[:RESPONSE_EXCERPT_CHARS]


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(tz=UTC)).total_seconds())


def _short(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:200]
