"""Sessions, CSRF, auth and messages serve the admin; API requests skip them."""

from __future__ import annotations

from unittest import mock

import pytest
from django.contrib.messages.middleware import MessageMiddleware
from django.contrib.sessions.middleware import SessionMiddleware
from django.middleware.csrf import CsrfViewMiddleware

pytestmark = pytest.mark.django_db


def _spies():
    return (
        mock.patch.object(SessionMiddleware, "process_request", autospec=True),
        mock.patch.object(MessageMiddleware, "process_request", autospec=True),
        mock.patch.object(CsrfViewMiddleware, "process_view", autospec=True, return_value=None),
    )


def test_api_requests_skip_sessions_csrf_and_messages(api) -> None:
    session, messages, csrf = _spies()
    with session as session_spy, messages as messages_spy, csrf as csrf_spy:
        listed = api.get("/api/v1/payments")
        posted = api.post("/api/v1/api-keys/rotate", {}, format="json")

    assert (listed.status_code, posted.status_code) == (200, 201)
    assert not session_spy.called and not messages_spy.called and not csrf_spy.called
    assert not listed.cookies and "Cookie" not in listed.get("Vary", "")


def test_the_admin_keeps_them(staff) -> None:
    response = staff.get("/admin/")

    assert response.status_code == 200
    assert response.wsgi_request.user.is_staff
    assert response.wsgi_request.session.session_key


def test_the_admin_still_checks_csrf() -> None:
    from django.test import Client

    strict = Client(enforce_csrf_checks=True)

    refused = strict.post("/admin/login/", {"username": "x", "password": "y"})

    assert refused.status_code == 403
