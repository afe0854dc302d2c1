"""The ledger in the ops back-office: read-only accounts and entries, gateway balances summed
from entries, fee schedules through services, finance's adjustment behind its permission, and
the operator float beside the operator's own balance."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.contrib.messages import get_messages
from django.db import transaction
from django.test import Client

from audit.models import AuditLog
from audit.services import SYSTEM
from payments import services
from payments.ledger import selectors
from payments.ledger.models import Account, AccountKind, Entry, EntryKind, FeeSchedule
from payments.models import Flow, Payment, Status
from providers import registry
from tenants.models import Mode, Tenant
from tests.payments.factories import PaymentFactory, fund
from tests.providers.mtn.fake import mtn_with_tokens
from tests.staff import signed_in
from tests.tenants.factories import TenantFactory

pytestmark = pytest.mark.django_db

BASE = settings.MTN["test"]["BASE_URL"]
MTN_BALANCE = f"{BASE}/collection/v1_0/account/balance"
ACCOUNTS = "/admin/payments/account/"


@pytest.fixture(autouse=True)
def _fast(settings):
    settings.MTN_RETRY_INITIAL_SECONDS = 0
    settings.MTN_RETRY_MAX_SECONDS = 0


def _collected(tenant: Tenant, amount: str, fee: str = "0.00") -> Payment:
    payment = PaymentFactory.create(tenant=tenant, amount=Decimal(amount), fee=Decimal(fee))
    services.transition_payment(payment=payment, status=Status.SUCCESSFUL)
    return payment


def _payout(tenant: Tenant, amount: str, external_id: str = "payout-1") -> Payment:
    return services.create_payment(
        tenant=tenant,
        mode=Mode.TEST,
        flow=Flow.DISBURSEMENT,
        amount=Decimal(amount),
        currency="ZMW",
        msisdn="260961234567",
        external_id=external_id,
        actor=SYSTEM,
    )


def _sums(kind: str, **lookup: object) -> tuple[Decimal, Decimal]:
    """A gateway account's (posted, pending) balance, summed from its entries."""
    account = selectors.with_entry_balances(Account.objects.filter(kind=kind, **lookup)).get()
    return account.entry_posted, account.entry_pending  # type: ignore[attr-defined]  # annotated


def _staff_user(*permissions: str) -> Client:
    """A staff user (not a superuser) with exactly these payments permissions."""
    user = get_user_model().objects.create_user("finance", "f@example.zm", "a-long-password")
    user.is_staff = True
    user.save()
    user.user_permissions.set(
        Permission.objects.filter(content_type__app_label="payments", codename__in=permissions)
    )
    client = Client()
    client.force_login(user)
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _adjust_url(tenant: Tenant) -> str:
    return f"{ACCOUNTS}adjust/{tenant.pk}/"


# --- pages ----------------------------------------------------------------------------------


def test_ledger_pages_render_for_a_superuser(staff) -> None:
    tenant = TenantFactory.create(name="Lusaka Books")
    fund(tenant, "100.00")
    _collected(tenant, "40.00", fee="1.00")
    FeeSchedule.objects.create(tenant=tenant, provider="mtn", flow=Flow.COLLECTION)
    merchant = Account.objects.get(kind=AccountKind.MERCHANT)
    entry = Entry.objects.first()
    assert entry is not None

    for url in (
        ACCOUNTS,
        f"{ACCOUNTS}{merchant.pk}/change/",
        "/admin/payments/entry/",
        f"/admin/payments/entry/{entry.pk}/change/",
        "/admin/payments/feeschedule/",
        "/admin/payments/feeschedule/add/",
        _adjust_url(tenant),
        f"/admin/payments/payment/{entry.payment_id}/change/",
    ):
        assert staff.get(url).status_code == 200, url


def test_account_list_shows_merchant_totals_and_gateway_balances_from_entries(staff) -> None:
    tenant = TenantFactory.create(name="Lusaka Books")
    fund(tenant, "1000.00")
    _collected(tenant, "200.00", fee="3.00")
    _payout(tenant, "150.00")

    page = staff.get(ACCOUNTS).content.decode()

    merchant = Account.objects.get(kind=AccountKind.MERCHANT)
    assert (merchant.available, merchant.reserved) == (Decimal("1047.00"), Decimal("150.00"))
    assert "1,047.00" in page and "Lusaka Books" in page
    # Credits minus debits, summed from entries: equity gave the top-up, the float was debited
    # by the collection (money at the operator) and has a payout pending, fees earned 3.00.
    equity = _sums(AccountKind.EQUITY)
    float_ = _sums(AccountKind.OPERATOR_FLOAT, provider="mtn", mode="test")
    fees = _sums(AccountKind.FEES)
    assert equity == (Decimal("-1000.00"), Decimal("0"))
    assert float_ == (Decimal("-200.00"), Decimal("150.00"))
    assert fees == (Decimal("3.00"), Decimal("0"))
    assert "-1,000.00" in page and "-200.00" in page
    # Double entry: everything posted sums to zero, pending too.
    posted = merchant.credits_posted - merchant.debits_posted
    assert posted + equity[0] + float_[0] + fees[0] == 0
    assert -merchant.debits_pending + float_[1] == 0


def test_a_voided_payout_leaves_nothing_pending_on_the_float(staff) -> None:
    tenant = TenantFactory.create()
    fund(tenant, "500.00")
    payout = _payout(tenant, "150.00")
    services.transition_payment(payment=payout, status=Status.FAILED, failure_code="expired")
    posted = _payout(tenant, "100.00", external_id="payout-2")
    services.transition_payment(payment=posted, status=Status.SUCCESSFUL)

    assert _sums(AccountKind.OPERATOR_FLOAT) == (Decimal("100.00"), Decimal("0"))


def test_account_search_by_tenant_and_link_to_its_entries(staff) -> None:
    mine, other = TenantFactory.create(name="Chipata Hardware"), TenantFactory.create()
    fund(mine, "11.00")
    fund(other, "22.00")
    account = Account.objects.get(kind=AccountKind.MERCHANT, tenant=mine)

    found = staff.get(ACCOUNTS, {"q": "chipata"}).content.decode()
    entries = staff.get("/admin/payments/entry/", {"account": account.pk}).content.decode()

    assert f"?account={account.pk}" in found and "Chipata Hardware" in found
    assert str(other.pk) not in found
    assert "11.00" in entries and "22.00" not in entries


def test_accounts_and_entries_are_read_only(staff) -> None:
    fund(TenantFactory.create(), "10.00")
    account = Account.objects.get(kind=AccountKind.MERCHANT)
    entry = Entry.objects.get()

    assert staff.get(f"{ACCOUNTS}add/").status_code == 403
    assert staff.get("/admin/payments/entry/add/").status_code == 403
    assert staff.post(f"{ACCOUNTS}{account.pk}/delete/", {"post": "yes"}).status_code == 403
    assert (
        staff.post(f"/admin/payments/entry/{entry.pk}/delete/", {"post": "yes"}).status_code == 403
    )
    staff.post(f"/admin/payments/entry/{entry.pk}/change/", {"amount": "99.00"})
    assert Entry.objects.get().amount == Decimal("10.00")


def test_entry_filters_render(staff) -> None:
    fund(TenantFactory.create(), "10.00")

    for query in ({"kind__exact": "top_up"}, {"phase__exact": "posted"}, {"mode__exact": "test"}):
        page = staff.get("/admin/payments/entry/", query)
        assert page.status_code == 200 and "10.00" in page.content.decode(), query
    assert (
        "10.00" not in staff.get("/admin/payments/entry/", {"kind__exact": "fee"}).content.decode()
    )


# --- the manual adjustment ------------------------------------------------------------------


def test_a_credit_by_finance_is_one_entry_and_one_audit_row_under_their_name(staff) -> None:
    tenant = TenantFactory.create()

    response = staff.post(
        _adjust_url(tenant),
        {"mode": "live", "currency": "ZMW", "amount": "250.00", "reason": "Bank deposit 7781"},
    )

    assert response.status_code == 302
    entry = Entry.objects.get()
    assert (entry.kind, entry.amount, entry.mode, entry.actor_label) == (
        EntryKind.ADJUSTMENT,
        Decimal("250.00"),
        "live",
        "ops",
    )
    assert entry.description == "Bank deposit 7781"
    account = Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode="live")
    assert account.available == Decimal("250.00")
    audit = AuditLog.objects.get(action="ledger.adjustment")
    assert (audit.actor_kind, audit.actor_label, audit.tenant_id) == ("user", "ops", tenant.pk)
    assert any("Credited 250.00 ZMW" in message for message in _messages(response))


def test_a_debit_beyond_available_is_refused_with_a_message_and_changes_nothing(staff) -> None:
    tenant = TenantFactory.create()
    fund(tenant, "40.00", mode=Mode.LIVE)
    before = Entry.objects.count(), AuditLog.objects.count()

    response = staff.post(
        _adjust_url(tenant),
        {"mode": "live", "currency": "ZMW", "amount": "-40.01", "reason": "Settlement"},
    )

    assert response.status_code == 200  # the form again, with the reason
    assert any("Refused, nothing changed" in m for m in _messages(response))
    assert (Entry.objects.count(), AuditLog.objects.count()) == before
    account = Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode="live")
    assert (account.available, account.debits_posted) == (Decimal("40.00"), Decimal("0"))


def test_a_debit_within_available_goes_through(staff) -> None:
    tenant = TenantFactory.create()
    fund(tenant, "40.00", mode=Mode.LIVE)

    staff.post(
        _adjust_url(tenant),
        {"mode": "live", "currency": "ZMW", "amount": "-40.00", "reason": "Settlement 12"},
    )

    account = Account.objects.get(kind=AccountKind.MERCHANT, tenant=tenant, mode="live")
    assert account.available == 0


@pytest.mark.parametrize(
    ("data", "field"),
    [
        ({"amount": "0"}, "amount"),
        ({"amount": "1.005"}, "amount"),
        ({"reason": ""}, "reason"),
        ({"currency": "USD"}, "currency"),
        ({"mode": "prod"}, "mode"),
        ({"mode": ""}, "mode"),
    ],
)
def test_an_invalid_adjustment_shows_the_form_again(staff, data, field) -> None:
    form = {"mode": "test", "currency": "ZMW", "amount": "5.00", "reason": "why", **data}

    response = staff.post(_adjust_url(TenantFactory.create()), form)

    assert response.status_code == 200
    assert field in response.context["form"].errors
    assert not Entry.objects.exists()


def test_the_adjustment_needs_the_adjust_balance_permission() -> None:
    tenant = TenantFactory.create()
    fund(tenant, "1.00")  # an account to list: the actions show only with results
    viewer = _staff_user("view_account", "view_entry")
    form = {"mode": "live", "currency": "ZMW", "amount": "100.00", "reason": "Deposit"}

    assert viewer.get(ACCOUNTS).status_code == 200
    assert 'value="adjust_balance"' not in viewer.get(ACCOUNTS).content.decode()
    assert viewer.get(_adjust_url(tenant)).status_code == 403
    assert viewer.post(_adjust_url(tenant), form).status_code == 403
    assert Entry.objects.count() == 1

    finance = get_user_model().objects.get(username="finance")
    finance.user_permissions.add(Permission.objects.get(codename="adjust_balance"))
    # Permissions are cached on the user: sign in again, now with the second factor a money
    # permission asks for.
    viewer = signed_in(get_user_model().objects.get(pk=finance.pk))

    assert 'value="adjust_balance"' in viewer.get(ACCOUNTS).content.decode()
    assert viewer.post(_adjust_url(tenant), form).status_code == 302
    assert Entry.objects.filter(kind=EntryKind.ADJUSTMENT).get().actor_label == "finance"


def test_the_account_and_tenant_actions_lead_to_the_form(staff) -> None:
    tenant = TenantFactory.create()
    fund(tenant, "1.00")
    account = Account.objects.get(kind=AccountKind.MERCHANT)
    equity = Account.objects.get(kind=AccountKind.EQUITY)

    from_account = staff.post(
        ACCOUNTS, {"action": "adjust_balance", "_selected_action": [account.pk]}
    )
    from_tenant = staff.post(
        "/admin/tenants/tenant/", {"action": "adjust_balance", "_selected_action": [tenant.pk]}
    )
    not_a_merchant = staff.post(
        ACCOUNTS, {"action": "adjust_balance", "_selected_action": [equity.pk]}
    )

    assert from_account["Location"] == f"{_adjust_url(tenant)}?mode=test&currency=ZMW"
    assert from_tenant["Location"] == _adjust_url(tenant)
    assert "Select exactly one merchant account." in _messages(not_a_merchant)


# --- fee schedules --------------------------------------------------------------------------


def test_a_fee_schedule_change_leaves_existing_payments_fees_untouched(staff) -> None:
    tenant = TenantFactory.create()
    schedule = {"tenant": tenant.pk, "provider": "mtn", "flow": "collection", "minimum": "0"}

    created = staff.post(
        "/admin/payments/feeschedule/add/", {**schedule, "percent": "2", "fixed": "0.50"}
    )
    assert created.status_code == 302
    row = FeeSchedule.objects.get()
    before = services.create_payment(
        tenant=tenant,
        mode=Mode.TEST,
        flow=Flow.COLLECTION,
        amount=Decimal("100.00"),
        currency="ZMW",
        msisdn="260961234567",
        external_id="before",
        actor=SYSTEM,
    )
    changed = staff.post(
        f"/admin/payments/feeschedule/{row.pk}/change/",
        {**schedule, "percent": "5", "fixed": "1.00"},
    )
    assert changed.status_code == 302
    after = services.create_payment(
        tenant=tenant,
        mode=Mode.TEST,
        flow=Flow.COLLECTION,
        amount=Decimal("100.00"),
        currency="ZMW",
        msisdn="260961234567",
        external_id="after",
        actor=SYSTEM,
    )

    before.refresh_from_db()
    assert before.fee == Decimal("2.50") and before.net == Decimal("97.50")
    assert after.fee == Decimal("6.00")
    audit = AuditLog.objects.get(action="fee_schedule.changed")
    assert audit.actor_kind == "user"
    assert audit.data["before"]["percent"] == "2.000" and audit.data["percent"] == "5.000"


def test_a_deleted_fee_schedule_is_audited(staff) -> None:
    row = FeeSchedule.objects.create(
        tenant=TenantFactory.create(), provider="mtn", flow=Flow.DISBURSEMENT
    )

    staff.post(f"/admin/payments/feeschedule/{row.pk}/delete/", {"post": "yes"})

    assert not FeeSchedule.objects.exists()
    assert AuditLog.objects.filter(action="fee_schedule.deleted").count() == 1


def test_a_duplicate_fee_schedule_is_a_form_error(staff) -> None:
    tenant = TenantFactory.create()
    FeeSchedule.objects.create(tenant=tenant, provider="mtn", flow=Flow.COLLECTION)
    data = {"tenant": tenant.pk, "provider": "mtn", "flow": "collection"}

    response = staff.post(
        "/admin/payments/feeschedule/add/", {**data, "percent": "1", "fixed": "0", "minimum": "0"}
    )

    assert response.status_code == 200 and FeeSchedule.objects.count() == 1


# --- operator float -------------------------------------------------------------------------


def _float_rows(page: str) -> dict[tuple[str, str], list[str]]:
    body = page.split('<table id="float-lines">', 1)[1].split("</tbody>", 1)[0]
    rows = {}
    for row in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S):
        cells = [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<td>(.*?)</td>", row, flags=re.S)
        ]
        if cells:
            rows[(cells[0], cells[1])] = cells[2:]
    return rows


def test_float_page_shows_the_ledger_beside_the_operators_balance(staff) -> None:
    tenant = TenantFactory.create()
    fund(tenant, "1000.00")
    _collected(tenant, "200.00", fee="3.00")
    _payout(tenant, "50.00")

    with mtn_with_tokens(BASE) as mtn:
        mtn.get(MTN_BALANCE, json={"availableBalance": "1200.00", "currency": "ZMW"})
        response = staff.get(f"{ACCOUNTS}float/")

    assert response.status_code == 200
    page = response.content.decode()
    rows = _float_rows(page)
    # currency, ledger, pending out, operator, difference
    assert rows[("mtn", "test")] == ["ZMW", "200.00", "50.00", "1200.00", "1000.00"]
    assert 'class="float-mismatch"' in page
    assert rows[("mtn", "live")][3].startswith("unavailable: MTN live credentials")
    assert rows[("airtel", "test")][3].startswith("unavailable")
    assert ACCOUNTS + "float/" in staff.get(ACCOUNTS).content.decode()  # linked from the list


def test_float_page_shows_a_match_and_an_operator_that_is_down(staff) -> None:
    _collected(TenantFactory.create(), "75.00")

    with mtn_with_tokens(BASE) as mtn:
        mtn.get(MTN_BALANCE, json={"availableBalance": "75.00", "currency": "ZMW"})
        matching = staff.get(f"{ACCOUNTS}float/").content.decode()
    registry.reset()  # a fresh adapter: the first page's token and breaker are forgotten
    with mtn_with_tokens(BASE) as mtn:
        mtn.get(MTN_BALANCE, status=503, json={"code": "SERVICE_UNAVAILABLE"})
        down = staff.get(f"{ACCOUNTS}float/").content.decode()

    assert _float_rows(matching)[("mtn", "test")] == ["ZMW", "75.00", "0.00", "75.00", "0.00"]
    assert 'class="float-match"' in matching and 'class="float-mismatch"' not in matching
    mtn_down = _float_rows(down)[("mtn", "test")]
    assert mtn_down[:2] == ["ZMW", "75.00"] and mtn_down[3].startswith("unavailable")
    assert mtn_down[4] == "—"


def test_float_page_in_another_currency_is_not_compared(staff) -> None:
    _collected(TenantFactory.create(), "75.00")

    with mtn_with_tokens(BASE) as mtn:
        mtn.get(MTN_BALANCE, json={"availableBalance": "10.00", "currency": "EUR"})
        lines = [
            line
            for line in selectors.list_float_reconciliation()
            if (line.provider, line.mode) == ("mtn", "test")
        ]

    assert [(line.currency, line.ledger, line.operator) for line in lines] == [
        ("EUR", 0, Decimal("10.00")),
        ("ZMW", Decimal("75.00"), None),
    ]
    assert lines[1].note == "the operator reports in EUR"


def test_the_float_reconciliation_refuses_to_run_inside_a_transaction() -> None:
    with pytest.raises(RuntimeError), transaction.atomic():
        selectors.list_float_reconciliation()


def test_the_float_page_needs_view_permission_on_accounts() -> None:
    assert _staff_user("view_entry").get(f"{ACCOUNTS}float/").status_code == 403
