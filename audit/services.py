"""Recording the audit trail. Call inside the transaction that makes the change."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

from django.core.exceptions import PermissionDenied
from django.db import models

from audit.models import ActorKind, AuditLog
from gateway import context

if TYPE_CHECKING:
    from tenants.models import Tenant


class PermissionHolder(Protocol):
    def has_perm(self, perm: str, obj: Any = None) -> bool: ...


@dataclass(frozen=True)
class Actor:
    """Who caused a change: an API key, a staff user, the system (jobs) or a provider.
    A staff actor carries its user, so a service can check the user's permissions."""

    kind: ActorKind
    id: str = ""
    label: str = ""
    user: PermissionHolder | None = field(default=None, compare=False, repr=False)


SYSTEM = Actor(kind=ActorKind.SYSTEM, label="system")


def require_permission(actor: Actor, permission: str) -> None:
    """A staff user acts only with the permission for the action: the admin hides what they
    may not do, and this check holds whatever the caller. Keys, jobs and operators act
    within their own rules. A staff actor without its user is refused (fail closed)."""
    if actor.kind != ActorKind.USER:
        return
    if actor.user is None or not actor.user.has_perm(permission):
        raise PermissionDenied(f"{actor.label or 'This user'} lacks the {permission} permission.")


def record(
    *,
    actor: Actor,
    action: str,
    target: models.Model,
    tenant: Tenant | None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    return AuditLog.objects.create(
        **row(
            actor=actor,
            action=action,
            target_type=target._meta.label_lower,
            target_id=str(target.pk),
            target_ref=public_ref(target),
            tenant_id=tenant.pk if tenant else None,
            data=data,
        )
    )


def public_ref(target: models.Model) -> str:
    """The id staff and merchants know a row by, for the audit trail: its `audit_ref` (a key's
    sk_test_…), else its `public_id` (pay_…, evt_…), else a UUID primary key (a tenant's id)."""
    for name in ("audit_ref", "public_id"):
        if value := getattr(target, name, ""):
            return str(value)
    return str(target.pk) if isinstance(target.pk, uuid.UUID) else ""


def row(
    *,
    actor: Actor,
    action: str,
    target_type: str,
    target_id: str | None,
    tenant_id: object,
    data: dict[str, Any] | None = None,
    target_ref: str = "",
) -> dict[str, Any]:
    """An audit row's values, by field name, as `record` writes them. For a statement that
    writes its row itself (in the same statement as its change), `target_id` may be None."""
    request_id = context.request_id.get()
    return {
        "tenant_id": tenant_id,
        "actor_kind": actor.kind,
        "actor_id": actor.id,
        "actor_label": actor.label,
        "action": action,
        "target_type": target_type,
        "target_id": target_id,
        "target_ref": target_ref,
        "data": data or {},
        "request_id": "" if request_id == "-" else request_id,
        "ip_address": context.client_ip.get(),
    }
