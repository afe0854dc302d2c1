"""Staff sign-in to the back-office: who needs a second factor (TOTP), the middleware that
keeps them out of the admin until they gave one, and enrolling an authenticator app.

Failed codes count as failed sign-ins for the lockout (django-axes), like wrong passwords.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import django_otp
from axes import utils as axes_utils
from axes.handlers.proxy import AxesProxyHandler
from django.contrib.auth import logout
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db import transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp.plugins.otp_totp.models import TOTPDevice

from audit import services as audit
from audit.models import ActorKind

# Holding any of these means moving money, handling secrets and keys, or deciding who may
# do so: such a user signs in with a second factor. Superusers always do.
SECOND_FACTOR_PERMISSIONS = frozenset(
    {
        # money
        "payments.adjust_balance",
        "payments.refund_payment",
        "payments.resolve_payment",
        "payments.resolve_review",
        "payments.add_feeschedule",
        "payments.change_feeschedule",
        "payments.delete_feeschedule",
        # holding back or re-running jobs (a payment's submission, a webhook's delivery)
        "procrastinate.change_procrastinatejob",
        # secrets and keys
        "payments.view_payment_secrets",
        "tenants.activate_tenant",
        "tenants.add_tenant",
        "tenants.manage_api_keys",
        "tenants.issue_live_key",
        # who may do what
        "auth.add_user",
        "auth.change_user",
        "auth.add_group",
        "auth.change_group",
        "tenants.add_staffmembership",
        "tenants.change_staffmembership",
        "tenants.delete_staffmembership",
    }
)


def requires_second_factor(user: Any) -> bool:
    if user.is_superuser:
        return True
    return bool(SECOND_FACTOR_PERMISSIONS & user.get_all_permissions())


def client_ip(request: HttpRequest) -> str | None:
    """The address axes records: the one every other part of the gateway uses."""
    return request.META.get("REMOTE_ADDR") or None


def confirmed_device(user: Any) -> TOTPDevice | None:
    return TOTPDevice.objects.filter(user=user, confirmed=True).first()


def staff_actor(user: Any) -> audit.Actor:
    return audit.Actor(kind=ActorKind.USER, id=str(user.pk), label=user.get_username(), user=user)


# --- enrolment ----------------------------------------------------------------------------


@transaction.atomic
def start_enrolment(*, user: Any) -> TOTPDevice:
    """A new, unconfirmed authenticator for the user, replacing any earlier unconfirmed one:
    its secret is shown on this page only (a new visit starts over with a new secret)."""
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    return TOTPDevice.objects.create(user=user, name="authenticator app", confirmed=False)


@transaction.atomic
def confirm_enrolment(*, device: TOTPDevice) -> None:
    """After its first right code (`check_code`): the device counts from now on."""
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    audit.record(
        actor=staff_actor(device.user),
        action="staff.second_factor_enrolled",
        target=device,
        tenant=None,
        data={"username": device.user.get_username()},
    )


@transaction.atomic
def reset_second_factor(*, device: TOTPDevice, actor: audit.Actor) -> None:
    """A lost phone: the device goes, and its owner enrols a new one at the next sign-in."""
    audit.record(
        actor=actor,
        action="staff.second_factor_reset",
        target=device,
        tenant=None,
        data={"username": device.user.get_username()},
    )
    device.delete()


# --- sign-in ------------------------------------------------------------------------------


def check_code(request: HttpRequest, *, device: TOTPDevice, token: str) -> bool:
    """A code for the signed-in user's device. A wrong one is a failed sign-in (axes counts
    it and may lock the account, which signs the user out); a right one completes the
    sign-in: the session is marked verified and the failure count starts again."""
    user = request.user
    credentials = {"username": user.get_username()}
    if AxesProxyHandler.is_locked(request, credentials):
        logout(request)
        return False
    if django_otp.verify_token(user, device.persistent_id, token) is None:
        user_login_failed.send(sender=__name__, credentials=credentials, request=request)
        if getattr(request, "axes_locked_out", False):
            logout(request)
        return False
    request.session.cycle_key()
    django_otp.login(request, device)
    axes_utils.reset(username=user.get_username())
    return True


@receiver(user_logged_in)
def _reset_failures_of_complete_sign_ins(sender: Any, request: Any, user: Any, **_: Any) -> None:
    # A password completes the sign-in only of a user without a second factor.
    if not requires_second_factor(user):
        axes_utils.reset(username=user.get_username())


# --- the admin's gate ---------------------------------------------------------------------

ADMIN_PREFIX = "/admin/"


def second_factor_url(request: HttpRequest, name: str) -> str:
    return f"{reverse(name)}?{urlencode({'next': request.get_full_path()})}"


class SecondFactorMiddleware:
    """A staff user who needs a second factor reaches no admin page (custom ones included)
    before giving one: with no authenticator yet, to enrolment; else to the code page.
    Signing in and out, and the second-factor pages themselves, stay open."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if self._held_back(request):
            user = request.user
            name = "staff-otp-verify" if confirmed_device(user) else "staff-otp-enrol"
            return HttpResponseRedirect(second_factor_url(request, name))
        return self.get_response(request)

    @staticmethod
    def _held_back(request: HttpRequest) -> bool:
        if not request.path.startswith(ADMIN_PREFIX) or request.path in _open_paths():
            return False
        user = request.user
        verified: bool = user.is_authenticated and user.is_verified()  # type: ignore[attr-defined]  # OTPMiddleware adds it
        return user.is_staff and not verified and requires_second_factor(user)


def _open_paths() -> set[str]:
    return {
        reverse("admin:login"),
        reverse("admin:logout"),
        reverse("staff-otp-enrol"),
        reverse("staff-otp-verify"),
    }
