"""An ops journey through the back-office in a real browser (Playwright driving Debian's
chromium against a live server): sign in with a TOTP code, find a payment by a number typed
as people write it, open it, re-check it, resolve a stuck one with a reason, import an operator
statement with planted mismatches and see each one, rotate a key.
Screenshots of every page at 1400 and 1920 px go to var/artifacts/admin/.

The journey is STEPS, run in order on one signed-in browser: a later feature adds its own
step as a function `step(desk, world)` in that list.
"""

from __future__ import annotations

import re
from base64 import b32decode
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Permission
from django.utils import timezone
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import FilePayload, sync_playwright

from audit.models import AuditLog
from payments.models import Payment, Status
from reconciliation.models import ItemKind, ReconciliationRun
from tenants import keys
from tenants.models import ApiKey, Mode, Tenant
from tests.admin.browser import Desk, fresh_artifacts, launch_args
from tests.payments.factories import PaymentFactory
from tests.reconciliation.statements import MTN_HEADER, csv_text, mtn_line
from tests.staff import device_for
from tests.tenants.factories import TenantFactory, issue_key
from webhooks.outbound.models import Event

PASSWORD = "a-long-password-for-the-desk"  # the test user's


@dataclass
class World:
    """What the journey works on, made before the browser starts."""

    username: str
    tenant: Tenant
    stuck: Payment
    api_key: ApiKey


def _world() -> World:
    user = get_user_model().objects.create_superuser("lead-ops", password=PASSWORD)
    device_for(user)  # enrolled earlier (enrolment itself: tests/gateway/test_staff_auth.py)
    tenant = TenantFactory.create(name="Lusaka Books")
    api_key = issue_key(tenant).api_key
    for number in range(2, 6):
        PaymentFactory.create(tenant=tenant, msisdn=f"26096000000{number}")
    stuck = PaymentFactory.create(
        tenant=tenant,
        msisdn="260960000001",
        external_id="order-1042",
        submitted_at=timezone.now(),
    )
    return World(username=user.username, tenant=tenant, stuck=stuck, api_key=api_key)


def find_the_payment_by_number(desk: Desk, world: World) -> None:
    desk.shoot("home")
    desk.open("/admin/payments/payment/")
    desk.page.fill("#searchbar", "+260 96 000 0001")
    desk.page.press("#searchbar", "Enter")
    desk.page.wait_for_url(re.compile(r"q=%2B260"))
    rows = desk.page.locator("#result_list tbody tr")
    assert rows.count() == 1
    assert world.stuck.public_id in rows.first.inner_text()
    # Every column in sight at a laptop's 1400 px, beside the navigation and the filters.
    desk.page.set_viewport_size({"width": 1400, "height": 900})
    results = desk.page.locator("#changelist .results")
    overflow = results.evaluate("table => table.scrollWidth - table.clientWidth")
    assert overflow <= 0, f"the payments list scrolls sideways by {overflow} px at 1400 px"
    # The status badge is styled by the stylesheet (the CSP refuses inline style).
    badge = desk.page.locator(".badge").first
    assert badge.evaluate("b => getComputedStyle(b).backgroundColor") == "rgb(178, 106, 0)"
    desk.shoot("payments-found-by-number")
    rows.first.locator("th a").click()
    desk.page.wait_for_selector("#payment-actions")
    assert "View payment" in desk.page.content()
    desk.shoot("payment-page")


def recheck_it(desk: Desk, world: World) -> None:
    desk.page.click("#action-recheck input[type=submit]")
    desk.page.wait_for_selector("ul.messagelist")
    assert "Queued a status check" in desk.message()
    desk.shoot("payment-rechecked")
    assert AuditLog.objects.filter(
        action="payment.recheck_requested", target_ref=world.stuck.public_id
    ).exists()


def resolve_the_stuck_one(desk: Desk, world: World) -> None:
    desk.page.select_option("#resolve_status", "SUCCESSFUL")
    desk.page.fill("#resolve_reason", "MTN partner portal shows it paid at 10:42")
    desk.page.fill("#resolve_provider_transaction_id", "7712340091")
    desk.shoot("payment-resolving")
    desk.page.click("#action-resolve input[type=submit]")
    desk.page.wait_for_selector("ul.messagelist")
    assert "is now SUCCESSFUL" in desk.message()
    desk.shoot("payment-resolved")
    world.stuck.refresh_from_db()
    assert world.stuck.status == Status.SUCCESSFUL
    assert Event.objects.filter(payment=world.stuck, type="payment.succeeded").exists()


def import_a_statement_with_planted_mismatches(desk: Desk, world: World) -> None:
    """An MTN statement of the tenant's live collections, with one of each kind planted: a
    line that matches, one whose amount differs, one we do not have; and a successful payment
    of ours the statement lacks. The run's page counts each kind; each list shows its item."""
    now = timezone.now()

    def paid(transaction_id: str, amount: str) -> Payment:
        return PaymentFactory.create(
            tenant=world.tenant,
            mode=Mode.LIVE,
            status=Status.SUCCESSFUL,
            completed_at=now,
            provider_transaction_id=transaction_id,
            amount=Decimal(amount),
        )

    paid("MM-100", "150.00")
    differs = paid("MM-200", "200.00")
    lacking = paid("MM-300", "60.00")
    lines = [
        mtn_line(
            transaction_id="MM-100", reference="", amount="150.00", status="SUCCESSFUL", at=now
        ),
        mtn_line(
            transaction_id="MM-200", reference="", amount="250.00", status="SUCCESSFUL", at=now
        ),
        mtn_line(
            transaction_id="MM-999", reference="", amount="10.00", status="SUCCESSFUL", at=now
        ),
    ]
    desk.open("/admin/reconciliation/reconciliationrun/import/")
    desk.page.select_option("#id_provider", "mtn")
    desk.page.select_option("#id_mode", "live")
    desk.page.select_option("#id_tenant", str(world.tenant.pk))
    statement: FilePayload = {
        "name": "momo-statement.csv",
        "mimeType": "text/csv",
        "buffer": "".join(csv_text(MTN_HEADER, lines)).encode(),
    }
    desk.page.set_input_files("#id_file", files=[statement])
    desk.shoot("statement-import")
    desk.page.click("input[type=submit][value='Import and compare']")
    desk.page.wait_for_url(re.compile(r"/reconciliationrun/\d+/change/"))
    desk.shoot("reconciliation-run")
    page = desk.page.content()
    expected = {
        ItemKind.MATCHED: 1,
        ItemKind.AMOUNT_DIFFERS: 1,
        ItemKind.MISSING_HERE: 1,
        ItemKind.MISSING_THERE: 1,
        ItemKind.STATUS_DIFFERS: 0,
        ItemKind.SETTLED_AFTER_EXPIRY: 0,
    }
    for kind, count in expected.items():
        assert f"{kind.label}: {count}" in page, kind
    run = ReconciliationRun.objects.get()
    for kind, shows in [
        (ItemKind.AMOUNT_DIFFERS, differs.public_id),
        (ItemKind.MISSING_HERE, "MM-999"),
        (ItemKind.MISSING_THERE, lacking.public_id),
    ]:
        desk.open(
            "/admin/reconciliation/reconciliationitem/"
            f"?run__id__exact={run.pk}&kind__exact={kind.value}"
        )
        rows = desk.page.locator("#result_list tbody tr")
        assert rows.count() == 1 and shows in rows.first.inner_text(), kind
        desk.shoot(f"reconciliation-{kind.value}")


def rotate_a_key(desk: Desk, world: World) -> None:
    desk.open("/admin/tenants/apikey/")
    desk.shoot("api-keys")
    desk.run_list_action("/admin/tenants/apikey/", world.api_key.display, "rotate")
    desk.page.wait_for_selector("#new-keys")
    secret = desk.page.locator("code.new-secret").inner_text()
    desk.shoot("rotated-key-shown-once")
    parsed = keys.parse(secret)
    assert parsed is not None
    new_key = ApiKey.objects.get(prefix=parsed.prefix)
    assert new_key.tenant == world.tenant and new_key.secret_hash == parsed.secret_hash
    desk.open("/admin/tenants/apikey/")
    assert "in grace until" in desk.page.content()
    assert secret not in desk.page.content()
    desk.open(f"/admin/tenants/tenant/{world.tenant.pk}/change/")
    desk.shoot("tenant-page")
    desk.open("/admin/audit/auditlog/")
    desk.page.fill("#searchbar", world.stuck.public_id)
    desk.page.press("#searchbar", "Enter")
    desk.page.wait_for_url(re.compile(r"q=pay_"))
    desk.shoot("audit-trail-by-payment-id")
    assert "payment.resolved_by_hand" in desk.page.content()


@pytest.fixture(scope="module", autouse=True)
def _fresh_artifacts() -> None:
    fresh_artifacts()


STEPS: list[Callable[[Desk, World], None]] = [
    find_the_payment_by_number,
    recheck_it,
    resolve_the_stuck_one,
    import_a_statement_with_planted_mismatches,
    rotate_a_key,
]


@pytest.mark.django_db(transaction=True)
def test_an_ops_journey_through_the_back_office(live_server, monkeypatch) -> None:
    # Playwright's sync API runs an event loop beside this thread; the test's own database
    # reads between steps are plain synchronous calls.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    world = _world()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_args())
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            desk = Desk(page=page, base_url=live_server.url)
            device = device_for(get_user_model().objects.get(username=world.username))
            desk.sign_in(username=world.username, password=PASSWORD, device=device)
            for step in STEPS:
                step(desk, world)
        finally:
            browser.close()
    assert len(desk.shots) >= 2 * 17  # every page at both widths
    assert desk.refused == []
    assert all(shot.stat().st_size > 10_000 for shot in desk.shots)


@pytest.mark.django_db(transaction=True)
def test_a_new_ops_member_enrols_an_authenticator_in_the_browser(live_server, monkeypatch) -> None:
    """The first sign-in of someone whose role needs a second factor: the page shows a QR
    code and the key as text; the code an app computes from that key opens the admin."""
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    user = get_user_model().objects.create_user("new-ops", password=PASSWORD, is_staff=True)
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_payment", "resolve_payment"])
    )
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(**launch_args())
        try:
            desk = Desk(
                page=browser.new_page(viewport={"width": 1400, "height": 900}),
                base_url=live_server.url,
            )
            desk.open("/admin/")
            desk.page.fill("#id_username", user.username)
            desk.page.fill("#id_password", PASSWORD)
            desk.page.click("input[type=submit]")
            desk.page.wait_for_url(re.compile(r"/admin/second-factor/enrol/"))
            assert desk.page.locator("#otp-qr").evaluate("img => img.naturalWidth") > 100
            key = desk.page.locator("#otp-secret").inner_text().replace(" ", "")
            desk.shoot("enrolment")
            desk.page.fill("#id_token", code_for_key(key))
            desk.page.click("#otp-form input[type=submit]")
            desk.page.wait_for_url(re.compile(r"/admin/$"))
            assert "Payments" in desk.page.content()
        finally:
            browser.close()
    assert desk.refused == []
    assert TOTPDevice.objects.get(user=user).confirmed


def code_for_key(key: str) -> str:
    """What an authenticator app shows for a typed-in key (RFC 6238, 6 digits, 30 s)."""
    return f"{TOTP(b32decode(key)).token():06d}"
