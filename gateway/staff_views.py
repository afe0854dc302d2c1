"""The back-office's second-factor pages: enrol an authenticator app, give a code at sign-in.
The rules are in gateway.staff_auth."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import segno
from django import forms
from django.contrib import admin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import resolve_url
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django_otp.plugins.otp_totp.models import TOTPDevice

from gateway import staff_auth

ENROLLING_SESSION_KEY = "staff_otp_enrolling"


class CodeForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        min_length=6,
        max_length=6,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


def _next(request: HttpRequest) -> str:
    wanted = request.POST.get("next") or request.GET.get("next") or ""
    safe = url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return wanted if safe else reverse("admin:index")


def _signed_in_staff(request: HttpRequest) -> HttpResponse | None:
    """Only a staff user past the password comes here; one who needs no code moves on."""
    user = request.user
    if not (user.is_authenticated and user.is_staff):
        return HttpResponseRedirect(f"{resolve_url('admin:login')}?next={reverse('admin:index')}")
    if user.is_verified() or not staff_auth.requires_second_factor(user):  # type: ignore[attr-defined]  # OTPMiddleware adds it
        return HttpResponseRedirect(_next(request))
    return None


def _render(request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
    return TemplateResponse(
        request,
        f"admin/staff_auth/{template}",
        {**admin.site.each_context(request), "next": _next(request), **context},
    )


def verify(request: HttpRequest) -> HttpResponse:
    if (elsewhere := _signed_in_staff(request)) is not None:
        return elsewhere
    device = staff_auth.confirmed_device(request.user)
    if device is None:
        return HttpResponseRedirect(staff_auth.second_factor_url(request, "staff-otp-enrol"))
    form = CodeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        if staff_auth.check_code(request, device=device, token=form.cleaned_data["token"]):
            return HttpResponseRedirect(_next(request))
        if not request.user.is_authenticated:  # locked out: axes' page follows
            return HttpResponseRedirect(reverse("admin:login"))
        form.add_error(
            "token", "That code is not right, or was already used. Wait for the next one."
        )
    return _render(request, "verify.html", title="Second factor", form=form)


def enrol(request: HttpRequest) -> HttpResponse:
    if (elsewhere := _signed_in_staff(request)) is not None:
        return elsewhere
    if staff_auth.confirmed_device(request.user) is not None:
        return HttpResponseRedirect(staff_auth.second_factor_url(request, "staff-otp-verify"))
    device = None
    if request.method == "POST":
        device = TOTPDevice.objects.filter(
            pk=request.session.get(ENROLLING_SESSION_KEY), user=request.user, confirmed=False
        ).first()
    form = CodeForm(request.POST if request.method == "POST" and device else None)
    if device is not None and form.is_valid():
        # The first code proves the app holds the secret, and completes this sign-in.
        if staff_auth.check_code(request, device=device, token=form.cleaned_data["token"]):
            staff_auth.confirm_enrolment(device=device)
            return HttpResponseRedirect(_next(request))
        if not request.user.is_authenticated:  # locked out: axes' page follows
            return HttpResponseRedirect(reverse("admin:login"))
        form.add_error("token", "That code is not right. Check the phone's clock and try again.")
    if device is None:
        device = staff_auth.start_enrolment(user=request.user)
        request.session[ENROLLING_SESSION_KEY] = device.pk
    uri = device.config_url
    return _render(
        request,
        "enrol.html",
        title="Set up your second factor",
        form=form,
        otpauth_uri=uri,
        qr_svg=segno.make(uri, error="m").svg_data_uri(scale=4),
        secret=_grouped(device),
    )


def _grouped(device: TOTPDevice) -> str:
    """The secret as an app's "enter a key" field takes it, in groups of four to read."""
    secret = b32encode(device.bin_key).decode()
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))
