"""The back-office roles: every admin action declares its permission, the services check it
again for a staff actor, `support` runs no money or key action and sees no secret, and every
staff action leaves an audit row."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib import admin
from django.contrib.auth.models import Group, Permission
from django.core.exceptions import PermissionDenied
from django.test import Client
from django.urls import reverse
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import ActorKind, AuditLog
from audit.services import Actor
from payments import services as payments
from payments.ledger import services as ledger
from payments.models import Status
from tenants import services
from tenants.models import ApiKey, Mode
from tests.payments.factories import PaymentFactory
from tests.staff import signed_in
from tests.tenants.factories import TenantFactory, issue_key
from webhooks.models import InboundCallback

pytestmark = pytest.mark.django_db

MONEY_AND_KEY_PERMISSIONS = {
    "payments.adjust_balance",
    "payments.resolve_review",
    "payments.recheck_payment",
    "payments.resolve_payment",
    "payments.refund_payment",
    "tenants.activate_tenant",
    "tenants.manage_api_keys",
    "tenants.issue_live_key",
}


def _actor(user) -> Actor:
    return Actor(kind=ActorKind.USER, id=str(user.pk), label=user.username, user=user)


def _logged_in(user) -> Client:
    return signed_in(user)


OUR_APPS = {"audit", "gateway", "payments", "providers", "tenants", "webhooks"}


def test_every_admin_action_declares_its_permissions() -> None:
    # Procrastinate's own job admin is left to superusers: no role grants its permissions.
    for model_admin in admin.site._registry.values():
        if type(model_admin).__module__.split(".")[0] not in OUR_APPS:
            continue
        for name in model_admin.actions or ():
            action = name if callable(name) else getattr(model_admin, name)
            assert getattr(action, "allowed_permissions", ()), (type(model_admin), name)


def test_the_roles_exist_and_only_staff_roles_hold_money_and_key_permissions() -> None:
    held = {
        group.name: {
            f"{p.content_type.app_label}.{p.codename}"
            for p in group.permissions.select_related("content_type")
        }
        for group in Group.objects.all()
    }

    assert set(held) >= {"ops", "finance", "support", "read_only", "admin"}
    assert not held["support"] & MONEY_AND_KEY_PERMISSIONS
    assert not held["read_only"] & MONEY_AND_KEY_PERMISSIONS
    assert "payments.view_payment_secrets" not in held["support"] | held["read_only"]
    assert held["admin"] >= MONEY_AND_KEY_PERMISSIONS
    assert {
        "payments.resolve_review",
        "payments.recheck_payment",
        "payments.resolve_payment",
        "payments.refund_payment",
    } <= held["ops"]
    assert "tenants.issue_live_key" not in held["ops"] | held["finance"]


@pytest.fixture
def world():
    tenant = TenantFactory.create()
    api_key = issue_key(tenant).api_key
    payment = PaymentFactory.create(tenant=tenant)
    return tenant, api_key, payment


def _action(client: Client, changelist: str, action: str, pks: list[object]):
    return client.post(reverse(changelist), {"action": action, "_selected_action": pks})


def test_support_is_refused_each_money_and_key_action(world, staff_in) -> None:
    tenant, api_key, payment = world
    support = _logged_in(staff_in("support"))
    before = (AuditLog.objects.count(), ApiKey.objects.count(), ProcrastinateJob.objects.count())
    attempts = [
        ("admin:payments_payment_changelist", "recheck_with_operator", [payment.pk]),
        ("admin:payments_payment_changelist", "resolve_review", [payment.pk]),
        ("admin:tenants_tenant_changelist", "issue_test_key", [tenant.pk]),
        ("admin:tenants_tenant_changelist", "issue_live_key", [tenant.pk]),
        ("admin:tenants_tenant_changelist", "deactivate", [tenant.pk]),
        ("admin:tenants_tenant_changelist", "adjust_balance", [tenant.pk]),
        ("admin:tenants_apikey_changelist", "rotate", [api_key.pk]),
        ("admin:tenants_apikey_changelist", "revoke", [api_key.pk]),
    ]

    for changelist, action, pks in attempts:
        listing = support.get(reverse(changelist)).content.decode()
        assert f'value="{action}"' not in listing, action  # not offered
        _action(support, changelist, action, pks)  # nor run when posted anyway
    refused_pages = [
        support.post(
            reverse("admin:payments_payment_resolve_review", args=[payment.pk]),
            {"status": "FAILED", "reason": "guess"},
        ),
        support.post(
            reverse("admin:payments_account_adjust", args=[tenant.pk]),
            {"mode": "test", "currency": "ZMW", "amount": "100.00", "reason": "gift"},
        ),
    ]

    assert [page.status_code for page in refused_pages] == [403, 403]
    after = (AuditLog.objects.count(), ApiKey.objects.count(), ProcrastinateJob.objects.count())
    assert after == before
    tenant.refresh_from_db()
    api_key.refresh_from_db()
    assert tenant.is_active and api_key.revoked_at is None and api_key.expires_at is None


def test_the_services_refuse_a_support_actor_whatever_the_caller(world, staff_in) -> None:
    tenant, api_key, payment = world
    support = _actor(staff_in("support"))
    calls = [
        lambda: services.issue_api_key(tenant=tenant, mode=Mode.TEST, name="x", actor=support),
        lambda: services.revoke_api_key(api_key=api_key, actor=support),
        lambda: services.set_tenant_active(tenant=tenant, active=False, actor=support),
        lambda: payments.recheck_payment(payment=payment, actor=support),
        lambda: payments.resolve_review(
            payment=payment, status=Status.FAILED, reason="guess", actor=support
        ),
        lambda: ledger.adjust_balance(
            tenant=tenant,
            mode=Mode.TEST,
            amount=Decimal("10.00"),
            currency="ZMW",
            reason="gift",
            actor=support,
        ),
    ]

    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert not AuditLog.objects.filter(actor_kind=ActorKind.USER).exists()


def test_a_staff_actor_without_its_user_is_refused(world) -> None:
    tenant, _, _ = world
    anonymous_staff = Actor(kind=ActorKind.USER, id="7", label="ops")

    with pytest.raises(PermissionDenied):
        services.set_tenant_active(tenant=tenant, active=False, actor=anonymous_staff)


def test_issuing_a_live_key_is_refused_without_its_permission(world, staff_in) -> None:
    tenant, _, _ = world
    keys_only = staff_in("support")
    keys_only.user_permissions.add(
        *Permission.objects.filter(codename__in=["manage_api_keys", "view_tenant"])
    )
    client = _logged_in(keys_only)

    listing = client.get(reverse("admin:tenants_tenant_changelist")).content.decode()
    _action(client, "admin:tenants_tenant_changelist", "issue_live_key", [tenant.pk])
    with pytest.raises(PermissionDenied):
        services.issue_api_key(tenant=tenant, mode=Mode.LIVE, name="x", actor=_actor(keys_only))
    _action(client, "admin:tenants_tenant_changelist", "issue_test_key", [tenant.pk])

    assert 'value="issue_test_key"' in listing and 'value="issue_live_key"' not in listing
    assert list(tenant.api_keys.values_list("mode", flat=True).order_by("id")) == ["test", "test"]


def test_the_admin_role_issues_a_live_key_with_an_audit_row(world, staff_in) -> None:
    tenant, _, _ = world
    admin_user = staff_in("admin")

    _action(
        _logged_in(admin_user), "admin:tenants_tenant_changelist", "issue_live_key", [tenant.pk]
    )

    assert tenant.api_keys.filter(mode="live").count() == 1
    row = AuditLog.objects.get(action="api_key.created", actor_kind=ActorKind.USER)
    assert row.actor_label == admin_user.username


def test_an_operator_recheck_leaves_an_audit_row_naming_who_asked(world, staff_in) -> None:
    _, _, payment = world
    ops = staff_in("ops")

    _action(
        _logged_in(ops), "admin:payments_payment_changelist", "recheck_with_operator", [payment.pk]
    )

    row = AuditLog.objects.get(action="payment.recheck_requested")
    assert (row.actor_label, row.target_id, row.data["public_id"], row.data["queued"]) == (
        ops.username,
        str(payment.pk),
        payment.public_id,
        True,
    )
    assert ProcrastinateJob.objects.filter(task_name="payments.refresh_payment").count() == 1


def test_support_sees_no_callback_token_and_cannot_search_by_it(world, staff_in) -> None:
    _, _, payment = world
    callback = InboundCallback.objects.create(
        provider="mtn", token=payment.callback_token, method="POST", body="{}", payment=payment
    )
    support, ops = _logged_in(staff_in("support")), _logged_in(staff_in("ops"))
    payment_page = reverse("admin:payments_payment_change", args=[payment.pk])
    callback_page = reverse("admin:webhooks_inboundcallback_change", args=[callback.pk])
    callbacks = reverse("admin:webhooks_inboundcallback_changelist")

    for page in (payment_page, callback_page):
        assert support.get(page).status_code == 200
        assert payment.callback_token not in support.get(page).content.decode()
        assert payment.callback_token in ops.get(page).content.decode()
    searched = support.get(callbacks, {"q": payment.callback_token}).content.decode()
    assert callback_page not in searched
    assert callback_page in ops.get(callbacks, {"q": payment.callback_token}).content.decode()
