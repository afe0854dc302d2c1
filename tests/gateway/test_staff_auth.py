"""Staff sign-in: a second factor for money and keys, enrolment, and lockout after failures."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from axes.models import AccessAttempt
from django.contrib.auth import get_user_model
from django.test import Client
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit.models import AuditLog
from gateway import staff_auth
from tests.staff import code, device_for, signed_in

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-password"  # the test users' password


def _sign_in(username: str, password: str = PASSWORD) -> tuple[Client, int]:
    client = Client()
    response = client.post(
        "/admin/login/?next=/admin/", {"username": username, "password": password}
    )
    return client, response.status_code


@pytest.mark.parametrize(
    ("roles", "needed"),
    [
        (["ops"], True),
        (["finance"], True),
        (["admin"], True),
        (["support"], False),
        (["read_only"], False),
    ],
)
def test_a_second_factor_is_needed_for_money_and_key_roles_only(staff_in, roles, needed) -> None:
    assert staff_auth.requires_second_factor(staff_in(*roles)) is needed


def test_a_superuser_always_needs_it() -> None:
    root = get_user_model().objects.create_superuser("root", password=PASSWORD)

    assert staff_auth.requires_second_factor(root)


@pytest.mark.parametrize(
    "path",
    [
        "/admin/",
        "/admin/payments/payment/",
        "/admin/tenants/tenant/",
        "/admin/payments/account/float/",  # a custom admin view
    ],
)
def test_a_money_user_reaches_no_admin_page_without_a_verified_device(staff_in, path) -> None:
    password_only = signed_in(staff_in("ops"), second_factor=False)

    response = password_only.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/second-factor/enrol/?next=")


def test_with_a_device_it_asks_for_the_code_and_a_right_one_opens_the_admin(staff_in) -> None:
    user = staff_in("finance")
    device = device_for(user)
    client = signed_in(user, second_factor=False)

    asked = client.get("/admin/payments/payment/")
    wrong = client.post("/admin/second-factor/?next=/admin/", {"token": "000000"})
    # django-otp throttles a device after a wrong code (1 s, then doubling): let it pass.
    TOTPDevice.objects.filter(pk=device.pk).update(
        throttling_failure_timestamp=timezone.now() - timedelta(seconds=5)
    )
    right = client.post(
        "/admin/second-factor/?next=/admin/payments/payment/", {"token": code(device)}
    )

    assert asked["Location"] == "/admin/second-factor/?next=%2Fadmin%2Fpayments%2Fpayment%2F"
    assert wrong.status_code == 200 and "not right" in wrong.content.decode()
    assert right.status_code == 302 and right["Location"] == "/admin/payments/payment/"
    assert client.get("/admin/payments/payment/").status_code == 200


def test_the_same_code_cannot_be_used_twice(staff_in) -> None:
    user = staff_in("ops")
    device = device_for(user)
    token = code(device)
    first, second = signed_in(user, second_factor=False), signed_in(user, second_factor=False)

    assert first.post("/admin/second-factor/", {"token": token}).status_code == 302
    assert second.post("/admin/second-factor/", {"token": token}).status_code == 200
    assert second.get("/admin/").status_code == 302


def test_enrolment_shows_the_secret_once_and_the_first_code_confirms_it(staff_in) -> None:
    user = staff_in("admin")
    client = signed_in(user, second_factor=False)

    page = client.get("/admin/second-factor/enrol/?next=/admin/").content.decode()
    device = TOTPDevice.objects.get(user=user)
    uri = re.search(r'id="otp-uri"[^>]*>([^<]+)<', page)
    confirmed = client.post("/admin/second-factor/enrol/", {"token": code(device)})

    assert uri and uri.group(1).startswith("otpauth://totp/") and "data:image/svg+xml" in page
    secret = re.search(r'id="otp-secret"[^>]*>([A-Z2-7 ]+)<', page)
    assert secret and secret.group(1).replace(" ", "") in uri.group(1)
    assert confirmed.status_code == 302
    assert TOTPDevice.objects.get(user=user).confirmed
    assert client.get("/admin/").status_code == 200
    assert AuditLog.objects.filter(
        action="staff.second_factor_enrolled", actor_id=str(user.pk)
    ).exists()
    # Once enrolled, the page shows no secret again: it sends to the code page.
    again = signed_in(user, second_factor=False).get("/admin/second-factor/enrol/")
    assert again.status_code == 302 and again["Location"].startswith("/admin/second-factor/?")


def test_each_visit_of_the_enrolment_page_starts_over_with_a_new_secret(staff_in) -> None:
    user = staff_in("ops")
    client = signed_in(user, second_factor=False)

    client.get("/admin/second-factor/enrol/")
    first = TOTPDevice.objects.get(user=user).key
    client.get("/admin/second-factor/enrol/")

    assert TOTPDevice.objects.get(user=user).key != first


def test_a_support_user_needs_no_second_factor(staff_in) -> None:
    support = signed_in(staff_in("support"), second_factor=False)

    assert support.get("/admin/").status_code == 200
    assert support.get("/admin/payments/payment/").status_code == 200


def test_a_user_who_needs_none_is_sent_on_from_the_code_pages(staff_in) -> None:
    support = signed_in(staff_in("support"), second_factor=False)

    assert support.get("/admin/second-factor/?next=/admin/")["Location"] == "/admin/"


def test_the_full_sign_in_with_password_and_code(staff_in) -> None:
    user = staff_in("ops")
    device = device_for(user)

    client, status = _sign_in(user.username)
    response = client.post("/admin/second-factor/?next=/admin/", {"token": code(device)})

    assert status == 302
    assert response["Location"] == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_a_next_url_elsewhere_is_not_followed(staff_in) -> None:
    user = staff_in("ops")
    device = device_for(user)
    client = signed_in(user, second_factor=False)

    response = client.post(
        "/admin/second-factor/?next=https://evil.example/", {"token": code(device)}
    )

    assert response["Location"] == "/admin/"


# --- lockout --------------------------------------------------------------------------------


@pytest.fixture
def limit(settings) -> int:
    settings.AXES_FAILURE_LIMIT = 3
    return 3


def test_sign_in_is_locked_after_the_failure_limit_even_with_the_right_password(
    staff_in, limit
) -> None:
    user = staff_in("support")

    failures = [_sign_in(user.username, "wrong")[1] for _ in range(limit)]
    _, right = _sign_in(user.username)

    assert failures == [200] * (limit - 1) + [429]
    assert right == 429


def test_the_lock_ends_after_the_cool_off(staff_in, limit, settings) -> None:
    user = staff_in("support")
    for _ in range(limit):
        _sign_in(user.username, "wrong")

    AccessAttempt.objects.update(
        attempt_time=timezone.now() - settings.AXES_COOLOFF_TIME - timedelta(seconds=1)
    )
    client, status = _sign_in(user.username)

    assert status == 302
    assert client.get("/admin/").status_code == 200


def test_a_complete_sign_in_resets_the_count(staff_in, limit) -> None:
    user = staff_in("support")
    for _ in range(limit - 1):
        _sign_in(user.username, "wrong")

    assert _sign_in(user.username)[1] == 302
    assert [_sign_in(user.username, "wrong")[1] for _ in range(limit - 1)] == [200] * (limit - 1)


def test_wrong_codes_count_and_a_right_password_does_not_clear_them(staff_in, limit) -> None:
    user = staff_in("ops")
    device = device_for(user)
    client, _ = _sign_in(user.username)

    answers = [
        client.post("/admin/second-factor/", {"token": "000000"}).status_code
        for _ in range(limit - 1)
    ]
    locked = client.post("/admin/second-factor/", {"token": "000001"})
    _, status = _sign_in(user.username)

    assert answers == [200] * (limit - 1)
    assert locked.status_code in (302, 429)
    assert client.get("/admin/").status_code == 302  # signed out
    assert status == 429
    device.refresh_from_db()
    assert device.throttling_failure_count >= 1  # and django-otp's own throttle holds it back


def test_an_administrator_resets_a_lost_device(staff_in) -> None:
    user = staff_in("ops")
    device = device_for(user)
    administrator = signed_in(staff_in("admin"))
    listing = administrator.get("/admin/otp_totp/totpdevice/").content.decode()

    assert user.username in listing and device.key not in listing
    assert signed_in(staff_in("ops")).get("/admin/otp_totp/totpdevice/").status_code == 403
    administrator.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})

    assert not TOTPDevice.objects.filter(user=user).exists()
    assert AuditLog.objects.filter(action="staff.second_factor_reset").exists()
    page = signed_in(user, second_factor=False).get("/admin/")
    assert page["Location"].startswith("/admin/second-factor/enrol/")
