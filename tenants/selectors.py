from __future__ import annotations

import functools
from typing import Any
from uuid import UUID

from django.db import connection
from django.db.models import Case, CharField, QuerySet, Value, When
from django.utils import timezone

from gateway import db, errors
from tenants import keys
from tenants.models import ApiKey, KeyState, Mode, StaffMembership, Tenant

# Compared against when no row matches, so an unknown prefix costs the same as a wrong secret.
_NO_SUCH_HASH = "0" * 64


def get_api_key_for_secret(*, secret: str) -> ApiKey:
    """The usable key for a presented secret; raises the precise 401 error otherwise."""
    parsed = keys.parse(secret)
    if parsed is None:
        raise errors.InvalidApiKey("The API key is malformed.")
    with connection.cursor() as cursor:
        cursor.execute(_key_sql(), [parsed.prefix, parsed.mode])
        row = cursor.fetchone()
    api_key = None
    if row is not None:
        width = len(ApiKey._meta.concrete_fields)
        api_key = db.from_row(ApiKey, row[:width])
        api_key.tenant = db.from_row(Tenant, row[width:])
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


@functools.cache
def _key_sql() -> str:
    """The key of a prefix and mode, with its tenant: the look-up of every API request, as
    constant text (the ORM would compile the same join anew each time)."""
    key, tenant = ApiKey._meta, Tenant._meta
    return (
        f"SELECT {', '.join(db.columns(ApiKey, 'k') + db.columns(Tenant, 't'))}"  # noqa: S608  # nosec B608  # the models' own names, no input
        f" FROM {connection.ops.quote_name(key.db_table)} k"
        f" JOIN {connection.ops.quote_name(tenant.db_table)} t ON t.id = k.tenant_id"
        " WHERE k.prefix = %s AND k.mode = %s"
    )


def list_api_keys(*, tenant: Tenant, mode: Mode | str) -> QuerySet[ApiKey]:
    """The keys the API shows: a revoked one is gone (DELETE means it, so a later GET is a
    404); the back-office and the audit log keep it."""
    return ApiKey.objects.for_tenant(tenant, mode).filter(revoked_at__isnull=True)


def get_api_key(*, tenant: Tenant, mode: Mode | str, key_id: int) -> ApiKey:
    api_key = list_api_keys(tenant=tenant, mode=mode).filter(pk=key_id).first()
    if api_key is None:
        raise errors.NotFound(f"No API key {key_id}.")
    return api_key


def with_key_state(queryset: QuerySet[ApiKey]) -> QuerySet[ApiKey]:
    """Each key with its `state` (a KeyState value) now, as the API key check sees it:
    revoked first, then expired, then in grace (an end still ahead), else active."""
    now = timezone.now()
    return queryset.annotate(
        state=Case(
            When(revoked_at__lte=now, then=Value(KeyState.REVOKED.value)),
            When(expires_at__lte=now, then=Value(KeyState.EXPIRED.value)),
            When(expires_at__isnull=False, then=Value(KeyState.GRACE.value)),
            default=Value(KeyState.ACTIVE.value),
            output_field=CharField(),
        )
    )


def list_staff_tenant_ids(*, user: Any) -> list[UUID] | None:
    """The tenants a staff user may see in the back-office, or None for all of them: a
    superuser, or a user with no membership. Cached on the user object (one per request)."""
    if hasattr(user, "_staff_tenant_ids"):
        cached: list[UUID] | None = user._staff_tenant_ids
        return cached
    ids: list[UUID] | None = None
    if not user.is_superuser:
        memberships = StaffMembership.objects.filter(user_id=user.pk)
        ids = list(memberships.values_list("tenant_id", flat=True)) or None
    user._staff_tenant_ids = ids  # a per-request cache on the request's user object
    return ids
