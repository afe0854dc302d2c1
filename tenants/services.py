"""Writes for tenants and their API keys. Each one leaves an audit row in its transaction."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.text import slugify

from audit import services as audit
from tenants import keys
from tenants.models import ApiKey, Mode, Tenant

# last_used_at is for humans ("is this key still in use?"); writing it on every request would
# turn every API read into a row update.
LAST_USED_RESOLUTION = timedelta(minutes=1)

# What a staff user needs (tenants.models declares them; API keys act on their own tenant).
MANAGE_KEYS_PERMISSION = "tenants.manage_api_keys"
LIVE_KEY_PERMISSION = "tenants.issue_live_key"
ACTIVATE_PERMISSION = "tenants.activate_tenant"
CREATE_PERMISSION = "tenants.add_tenant"


@dataclass(frozen=True)
class IssuedKey:
    """A freshly issued key: the only moment its secret exists outside the caller's hands."""

    api_key: ApiKey
    secret: str


@dataclass(frozen=True)
class CreatedTenant:
    tenant: Tenant
    keys: list[IssuedKey] = field(default_factory=list)


@transaction.atomic
def create_tenant(*, name: str, actor: audit.Actor, live: bool = False) -> CreatedTenant:
    """A tenant with a test key, and a live key too when `live` (live keys come from ops).
    A staff actor needs `tenants.add_tenant`, and the key permissions for its keys."""
    audit.require_permission(actor, CREATE_PERMISSION)
    tenant = Tenant(name=name, slug=_free_slug(name))
    tenant.full_clean()
    try:
        with transaction.atomic():
            tenant.save()
    except IntegrityError:
        # Another sign-up took the same slug between our check and our insert.
        tenant.slug = f"{tenant.slug[:50]}-{secrets.token_hex(3)}"
        tenant.save()
    audit.record(actor=actor, action="tenant.created", target=tenant, tenant=tenant)
    modes = [Mode.TEST, Mode.LIVE] if live else [Mode.TEST]
    issued = [
        issue_api_key(tenant=tenant, mode=mode, name="default", actor=actor) for mode in modes
    ]
    return CreatedTenant(tenant=tenant, keys=issued)


@transaction.atomic
def set_tenant_active(*, tenant: Tenant, active: bool, actor: audit.Actor) -> Tenant:
    audit.require_permission(actor, ACTIVATE_PERMISSION)
    tenant = Tenant.objects.select_for_update().get(pk=tenant.pk)
    if tenant.is_active != active:
        tenant.is_active = active
        tenant.save(update_fields=["is_active"])
        action = "tenant.activated" if active else "tenant.deactivated"
        audit.record(actor=actor, action=action, target=tenant, tenant=tenant)
    return tenant


@transaction.atomic
def issue_api_key(
    *,
    tenant: Tenant,
    mode: Mode,
    name: str,
    actor: audit.Actor,
    expires_at: datetime | None = None,
) -> IssuedKey:
    audit.require_permission(actor, MANAGE_KEYS_PERMISSION)
    if mode == Mode.LIVE:
        audit.require_permission(actor, LIVE_KEY_PERMISSION)
    while True:
        secret, parsed = keys.generate(mode)
        if not ApiKey.objects.filter(prefix=parsed.prefix).exists():
            break  # a 12-character base62 prefix collides about once in 10^21 keys
    api_key = ApiKey(
        tenant=tenant,
        mode=mode,
        name=name,
        prefix=parsed.prefix,
        secret_hash=parsed.secret_hash,
        expires_at=expires_at,
    )
    api_key.full_clean()
    api_key.save()
    audit.record(
        actor=actor,
        action="api_key.created",
        target=api_key,
        tenant=tenant,
        data={"mode": mode, "name": name, "prefix": api_key.prefix},
    )
    return IssuedKey(api_key=api_key, secret=secret)


@transaction.atomic
def rotate_api_key(*, api_key: ApiKey, actor: audit.Actor, grace: timedelta) -> IssuedKey:
    """A new key of the same mode; the old one keeps working for `grace`, then stops."""
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    issued = issue_api_key(
        tenant=api_key.tenant, mode=Mode(api_key.mode), name=api_key.name, actor=actor
    )
    retire_at = timezone.now() + grace
    if api_key.expires_at is None or api_key.expires_at > retire_at:
        api_key.expires_at = retire_at
        api_key.save(update_fields=["expires_at"])
    audit.record(
        actor=actor,
        action="api_key.rotated",
        target=api_key,
        tenant=api_key.tenant,
        data={"replaced_by": issued.api_key.pk, "expires_at": api_key.expires_at.isoformat()},
    )
    return issued


@transaction.atomic
def revoke_api_key(*, api_key: ApiKey, actor: audit.Actor) -> ApiKey:
    audit.require_permission(actor, MANAGE_KEYS_PERMISSION)
    api_key = ApiKey.objects.select_for_update().get(pk=api_key.pk)
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
        audit.record(actor=actor, action="api_key.revoked", target=api_key, tenant=api_key.tenant)
    return api_key


def record_api_key_use(*, api_key: ApiKey) -> None:
    """Bump last_used_at, at most once per LAST_USED_RESOLUTION, in one conditional UPDATE."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    stale = Q(last_used_at__isnull=True) | Q(last_used_at__lt=now - LAST_USED_RESOLUTION)
    # The condition makes concurrent requests of one key write the row once, not N times.
    ApiKey.objects.filter(stale, pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now


def _free_slug(name: str) -> str:
    base = slugify(name)[:50] or "tenant"
    if not Tenant.objects.filter(slug=base).exists():
        return base
    return f"{base}-{secrets.token_hex(3)}"
