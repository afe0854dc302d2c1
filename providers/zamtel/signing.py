"""Signed callbacks on our ASSUMED contract: HTTP Message Signatures (RFC 9421) with an
HMAC-SHA256 shared secret, over the body's `Content-Digest` (RFC 9530) and the signature's
parameters. The simulator signs with `sign`; the adapter checks with `verify`.

    Content-Digest: sha-256=:<base64 sha256(body)>:
    Signature-Input: sig-zm=("content-digest");created=<unix>;keyid="<id>";alg="hmac-sha256"
    Signature: sig-zm=:<base64 hmac(secret, signature base)>:
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from collections.abc import Mapping

LABEL = "sig-zm"
ALGORITHM = "hmac-sha256"
# A signature older (or newer) than this is refused: a replayed callback.
MAX_AGE_SECONDS = 300

_INPUT = re.compile(r'^\s*([A-Za-z0-9_-]+)=(\("content-digest"\)(?:;[a-z]+=(?:"[^"]*"|\d+))*)\s*$')
_SIGNATURE = re.compile(r"^\s*([A-Za-z0-9_-]+)=:([A-Za-z0-9+/=]+):\s*$")
_DIGEST = re.compile(r"(?:^|,)\s*sha-256=:([A-Za-z0-9+/=]+):")
_PARAM = re.compile(r';([a-z]+)=(?:"([^"]*)"|(\d+))')


def content_digest(body: bytes) -> str:
    return f"sha-256=:{base64.b64encode(hashlib.sha256(body).digest()).decode()}:"


def _base(digest: str, params: str) -> bytes:
    return f'"content-digest": {digest}\n"@signature-params": {params}'.encode()


def sign(
    secret: str, body: bytes, *, key_id: str = "sandbox", created: int | None = None
) -> dict[str, str]:
    digest = content_digest(body)
    params = (
        f'("content-digest");created={created if created is not None else int(time.time())}'
        f';keyid="{key_id}";alg="{ALGORITHM}"'
    )
    mac = hmac.new(secret.encode(), _base(digest, params), hashlib.sha256).digest()
    return {
        "Content-Digest": digest,
        "Signature-Input": f"{LABEL}={params}",
        "Signature": f"{LABEL}=:{base64.b64encode(mac).decode()}:",
    }


def verify(
    secret: str, headers: Mapping[str, str], body: bytes, *, now: float | None = None
) -> bool:
    """True only for a signature by `secret` over this exact body, made recently."""
    lowered = {name.lower(): value for name, value in headers.items()}
    digest_header = lowered.get("content-digest", "")
    found = _DIGEST.search(digest_header)
    expected_digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
    if found is None or not hmac.compare_digest(found.group(1), expected_digest):
        return False  # the body is not the one that was signed
    signature_input = _INPUT.match(lowered.get("signature-input", ""))
    signature = _SIGNATURE.match(lowered.get("signature", ""))
    if signature_input is None or signature is None:
        return False
    if signature_input.group(1) != signature.group(1):
        return False
    params = signature_input.group(2)
    values = {
        m.group(1): m.group(2) if m.group(2) is not None else m.group(3)
        for m in _PARAM.finditer(params)
    }
    if values.get("alg", ALGORITHM) != ALGORITHM or not (values.get("created") or "").isdigit():
        return False
    age = (now if now is not None else time.time()) - int(values["created"])
    if abs(age) > MAX_AGE_SECONDS:
        return False
    mac = hmac.new(secret.encode(), _base(digest_header.strip(), params), hashlib.sha256)
    try:
        given = base64.b64decode(signature.group(2), validate=True)
    except ValueError:
        return False
    return hmac.compare_digest(mac.digest(), given)
