"""The API key format: `sk_<mode>_<40 base62 characters>` (about 238 bits of randomness).

Pure functions, no database: generating a secret, splitting a presented key, hashing it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import string
from dataclasses import dataclass

from tenants.models import Mode

RANDOM_LENGTH = 40
PREFIX_LENGTH = 12
_ALPHABET = string.ascii_letters + string.digits
_KEY_FORMAT = re.compile(rf"^sk_(test|live)_([A-Za-z0-9]{{{RANDOM_LENGTH}}})$")


@dataclass(frozen=True)
class ParsedKey:
    mode: Mode
    prefix: str
    secret_hash: str


def generate(mode: Mode) -> tuple[str, ParsedKey]:
    """A new secret key and its stored parts."""
    random_part = "".join(secrets.choice(_ALPHABET) for _ in range(RANDOM_LENGTH))
    key = f"sk_{mode}_{random_part}"
    return key, ParsedKey(
        mode=mode, prefix=random_part[:PREFIX_LENGTH], secret_hash=hash_secret(key)
    )


def hash_secret(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def parse(key: str) -> ParsedKey | None:
    """Split a presented key, or None if it cannot be one of ours."""
    match = _KEY_FORMAT.match(key)
    if match is None:
        return None
    return ParsedKey(
        mode=Mode(match.group(1)),
        prefix=match.group(2)[:PREFIX_LENGTH],
        secret_hash=hash_secret(key),
    )


def hashes_match(presented_hash: str, stored_hash: str) -> bool:
    return hmac.compare_digest(presented_hash.encode(), stored_hash.encode())
