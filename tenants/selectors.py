from __future__ import annotations

from django.db.models import QuerySet
from django.utils import timezone

from gateway import errors
from gateway.db import unique_or_none
from tenants import keys
from tenants.models import ApiKey, Mode, Tenant

# Compared against when no row matches, so an unknown prefix costs the same as a wrong secret.
_NO_SUCH_HASH = "0" * 64


def get_api_key_for_secret(*, secret: str) -> ApiKey:
    """The usable key for a presented secret; raises the precise 401 error otherwise."""
    parsed = keys.parse(secret)
    if parsed is None:
        raise errors.InvalidApiKey("The API key is malformed.")
    api_key = unique_or_none(
        ApiKey.objects.select_related("tenant").filter(prefix=parsed.prefix, mode=parsed.mode)
    )
    stored_hash = api_key.secret_hash if api_key else _NO_SUCH_HASH
    if not keys.hashes_match(parsed.secret_hash, stored_hash) or api_key is None:
        raise errors.InvalidApiKey()
    now = timezone.now()
    if api_key.is_revoked(now):
        raise errors.ApiKeyRevoked()
    if api_key.is_expired(now):
        raise errors.ApiKeyExpired()
    if not api_key.tenant.is_active:
        raise errors.TenantInactive()
    return api_key


def list_api_keys(*, tenant: Tenant, mode: Mode | str) -> QuerySet[ApiKey]:
    return ApiKey.objects.for_tenant(tenant, mode)


def get_api_key(*, tenant: Tenant, mode: Mode | str, key_id: int) -> ApiKey:
    api_key = list_api_keys(tenant=tenant, mode=mode).filter(pk=key_id).first()
    if api_key is None:
        raise errors.NotFound(f"No API key {key_id}.")
    return api_key
