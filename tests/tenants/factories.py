from __future__ import annotations

from datetime import datetime

import factory

from audit.services import SYSTEM
from tenants import services
from tenants.models import Mode, Tenant


class TenantFactory(factory.django.DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"Merchant {n}")
    slug = factory.Sequence(lambda n: f"merchant-{n}")


def issue_key(
    tenant: Tenant | None = None,
    mode: Mode = Mode.TEST,
    expires_at: datetime | None = None,
) -> services.IssuedKey:
    """A real key through the real service: factories cannot know a secret after hashing."""
    return services.issue_api_key(
        tenant=tenant or TenantFactory.create(),
        mode=mode,
        name="test",
        actor=SYSTEM,
        expires_at=expires_at,
    )
