from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from audit.services import SYSTEM
from payments.ledger import services as ledger
from payments.ledger.models import EntryKind
from payments.models import Flow, Payment, Status
from tenants.models import Mode, Tenant
from tests.tenants.factories import TenantFactory


class PaymentFactory(factory.django.DjangoModelFactory[Payment]):
    class Meta:
        model = Payment

    tenant = factory.SubFactory(TenantFactory)
    mode = Mode.TEST
    flow = Flow.COLLECTION
    provider = "mtn"
    amount = Decimal("150.00")
    currency = "ZMW"
    msisdn = "260961234567"
    external_id = factory.Sequence(lambda n: f"order-{n}")
    description = "Order"
    expires_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


def fund(tenant: Tenant, amount: str = "10000.00", mode: str = Mode.TEST) -> None:
    """Give a tenant available balance, as a test top-up does (payouts and refunds need it)."""
    ledger.adjust_balance(
        tenant=tenant,
        mode=mode,
        amount=Decimal(amount),
        currency="ZMW",
        reason="test funds",
        actor=SYSTEM,
        kind=EntryKind.TOP_UP,
    )


def airtel_collection() -> Payment:
    """A successful Airtel collection of a funded tenant, ready to be refunded (by its
    airtel_money_id)."""
    collection = PaymentFactory.create(
        provider="airtel",
        msisdn="260971234567",
        status=Status.SUCCESSFUL,
        completed_at=timezone.now(),
        provider_transaction_id="MP250101.1200.A1B2C3",
    )
    fund(collection.tenant)
    return collection
