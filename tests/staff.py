"""Signing staff in to the back-office in tests: with the second factor it asks for."""

from __future__ import annotations

from typing import Any

from django.test import Client
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.oath import TOTP
from django_otp.plugins.otp_totp.models import TOTPDevice


def device_for(user: Any) -> TOTPDevice:
    device, _ = TOTPDevice.objects.get_or_create(
        user=user, confirmed=True, defaults={"name": "test phone"}
    )
    return device


def code(device: TOTPDevice) -> str:
    """The code the device's app shows now (django-otp's own TOTP)."""
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    return f"{totp.token():0{device.digits}d}"


def signed_in(user: Any, *, second_factor: bool = True) -> Client:
    """A client signed in as `user`, past the second factor when `second_factor` (as if it
    had given a code on its confirmed device)."""
    client = Client()
    client.force_login(user)
    if second_factor:
        session = client.session
        session[DEVICE_ID_SESSION_KEY] = device_for(user).persistent_id
        session.save()
    return client
