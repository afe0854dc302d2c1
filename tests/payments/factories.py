from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import factory
from django.utils import timezone

from payments.models import Flow, Payment
from tenants.models import Mode
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
