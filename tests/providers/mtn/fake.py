"""MTN's HTTP API faked with `responses`, for unit tests (e2e tests use the simulator)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import responses


@contextmanager
def mtn_with_tokens(base_url: str) -> Iterator[responses.RequestsMock]:
    """A fake MTN whose token endpoints answer `token-<product>`; tests add the rest."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as fake:
        for product in ("collection", "disbursement"):
            fake.post(
                f"{base_url}/{product}/token/",
                json={
                    "access_token": f"token-{product}",
                    "token_type": "access_token",
                    "expires_in": 3600,
                },
            )
        yield fake
