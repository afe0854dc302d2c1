"""A staff user limited to tenant A (a StaffMembership) never sees tenant B's rows on any
admin page: every registered ModelAdmin of tenant data, its change pages, the tenant filter
and the tenant autocomplete."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.contrib import admin
from django.db import models
from django.urls import reverse

from audit.services import SYSTEM
from payments.ledger.models import Account, FeeSchedule
from payments.models import Payment
from payouts import services as payouts
from providers.models import OperatorConfig
from reconciliation.models import PaymentReconciliation, ReconciliationItem, ReconciliationRun
from tenants.admin import TenantScopedAdmin
from tenants.models import Mode, StaffMembership, Tenant
from tests.payments.factories import PaymentFactory, fund
from tests.staff import signed_in
from tests.tenants.factories import TenantFactory, issue_key
from tests.webhooks.outbound.factories import fanned_out, final_payment_event
from webhooks.models import InboundCallback
from webhooks.outbound import services as outbound
from webhooks.outbound.models import Delivery, DeliveryState

pytestmark = pytest.mark.django_db

# Rows of these models belong to the tenant their foreign key points at.
OWNED_THROUGH = (Tenant, Payment, Account)


def _owners(row: models.Model) -> set[Any]:
    """The tenants a row belongs to, found from its foreign keys (not from the admin's
    configuration, which is what is under test)."""
    if isinstance(row, Tenant):
        return {row.pk}
    owners: set[Any] = set()
    for field in row._meta.fields:
        if not field.is_relation or getattr(row, field.attname) is None:
            continue
        if field.related_model is Tenant:
            owners.add(getattr(row, field.attname))
        elif field.related_model in OWNED_THROUGH:
            owners |= _owners(getattr(row, field.name))
    return owners


def _tenant_data(tenant: Tenant) -> None:
    """One row of each kind of tenant data the admin shows."""
    payment = PaymentFactory.create(tenant=tenant)
    issue_key(tenant)  # an ApiKey and an audit row
    fund(tenant)  # a merchant Account and an Entry
    payouts.create_payout_batch(  # a PayoutBatch (and its payout)
        tenant=tenant,
        mode=Mode.TEST,
        currency="ZMW",
        items=[payouts.BatchItem(amount=Decimal("5.00"), msisdn="260961234567", external_id="b")],
        actor=SYSTEM,
    )
    OperatorConfig.objects.create(tenant=tenant, mode="test", provider="mtn")
    FeeSchedule.objects.create(tenant=tenant, provider="mtn", flow="collection")
    InboundCallback.objects.create(
        provider="mtn", token=payment.callback_token, method="POST", body="{}", payment=payment
    )
    outbound.create_webhook_endpoint(
        tenant=tenant, mode=Mode.TEST, url=f"https://{tenant.slug}.example/hook", actor=SYSTEM
    )
    fanned_out(final_payment_event(tenant))  # an Event and a Delivery
    Delivery.objects.filter(tenant=tenant).update(state=DeliveryState.DEAD, next_attempt_at=None)
    run = ReconciliationRun.objects.create(
        provider="mtn",
        mode="test",
        tenant=tenant,
        filename="statement.csv",
        period_start=date(2026, 12, 1),
        period_end=date(2026, 12, 1),
        imported_by="finance",
    )
    ReconciliationItem.objects.create(run=run, kind="matched", payment=payment, tenant=tenant)
    PaymentReconciliation.objects.create(
        payment=payment, tenant=tenant, note="checked", reconciled_by="finance"
    )


@pytest.fixture
def tenants(staff_in):
    alpha = TenantFactory.create(name="Alpha Foods", slug="alpha")
    bravo = TenantFactory.create(name="Bravo Bank", slug="bravo")
    _tenant_data(alpha)
    _tenant_data(bravo)
    limited = staff_in("admin")
    StaffMembership.objects.create(user=limited, tenant=alpha)
    StaffMembership.objects.create(user=staff_in("ops"), tenant=bravo)
    return alpha, bravo, signed_in(limited)


def _scoped_models() -> list[type[models.Model]]:
    return [
        model
        for model, model_admin in admin.site._registry.items()
        if isinstance(model_admin, TenantScopedAdmin)
    ]


def test_every_admin_of_tenant_data_is_tenant_scoped() -> None:
    for model, model_admin in admin.site._registry.items():
        tenant_data = model is Tenant or any(
            field.is_relation and field.related_model in OWNED_THROUGH
            for field in model._meta.fields
        )
        assert not tenant_data or isinstance(model_admin, TenantScopedAdmin), model


def _change_url(model: type[models.Model], pk: Any) -> str:
    return reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_change", args=[pk])


def test_a_limited_user_sees_only_its_tenants_rows_on_every_admin(tenants, staff) -> None:
    alpha, bravo, limited = tenants
    for model in _scoped_models():
        changelist = reverse(f"admin:{model._meta.app_label}_{model._meta.model_name}_changelist")
        everything = staff.get(changelist).content.decode()
        page = limited.get(changelist)
        assert page.status_code == 200, model
        html = page.content.decode()
        rows = list(model._default_manager.all())
        listed = [row for row in rows if _change_url(model, row.pk) in everything]
        bravo_rows = [row for row in rows if bravo.pk in _owners(row)]
        assert bravo_rows, f"the fixture has no row of {model.__name__} for tenant B"
        assert "Bravo Bank" not in html, model
        for row in rows:
            shown = _change_url(model, row.pk) in html
            if _owners(row) == {alpha.pk} and row in listed:
                assert shown, (model, row)
            elif _owners(row) != {alpha.pk}:
                assert not shown, (model, row)
        for row in bravo_rows:
            assert limited.get(_change_url(model, row.pk)).status_code == 302, (model, row)


def test_the_tenant_autocomplete_offers_only_its_tenants(tenants) -> None:
    alpha, _, limited = tenants

    answer = limited.get(
        "/admin/autocomplete/",
        {"app_label": "payments", "model_name": "feeschedule", "field_name": "tenant", "term": ""},
    ).json()

    assert [result["id"] for result in answer["results"]] == [str(alpha.pk)]


def test_the_adjustment_form_of_another_tenant_is_not_found(tenants) -> None:
    alpha, bravo, limited = tenants

    assert limited.get(reverse("admin:payments_account_adjust", args=[bravo.pk])).status_code == 404
    assert limited.get(reverse("admin:payments_account_adjust", args=[alpha.pk])).status_code == 200


def test_the_gateways_operator_float_is_not_shown_to_limited_staff(tenants, staff) -> None:
    _, _, limited = tenants
    float_page = reverse("admin:payments_account_float")

    assert limited.get(float_page).status_code == 403
    assert staff.get(float_page).status_code == 200


def test_the_payment_actions_and_the_key_pages_never_reach_another_tenant(tenants) -> None:
    alpha, bravo, limited = tenants
    bravo_payment = Payment.objects.filter(tenant=bravo).first()
    bravo_key = bravo.api_keys.get()
    assert bravo_payment is not None

    answers = [
        limited.post(f"/admin/payments/payment/{bravo_payment.pk}/{action}/", data).status_code
        for action, data in [
            ("recheck", {}),
            ("refund", {"amount": "1.00"}),
            ("resolve", {"status": "FAILED", "reason": "not mine"}),
        ]
    ]
    issued = limited.post(
        "/admin/tenants/tenant/", {"action": "issue_test_key", "_selected_action": [bravo.pk]}
    )
    rotated = limited.post(
        "/admin/tenants/apikey/", {"action": "rotate", "_selected_action": [bravo_key.pk]}
    )
    alpha_page = limited.get(_change_url(Tenant, alpha.pk)).content.decode()

    assert answers == [404, 404, 404]
    assert issued.status_code == rotated.status_code == 302  # nothing selected that it may see
    assert bravo.api_keys.count() == 1
    bravo_key.refresh_from_db()
    assert bravo_key.expires_at is None
    assert str(bravo.pk) not in alpha_page and f"?tenant__id__exact={alpha.pk}" in alpha_page
