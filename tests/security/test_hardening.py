"""Production hardening: who may read /metrics, the API docs setting, the pages'
Content-Security-Policy, no-store on API answers, and the TLS-proxy settings."""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from django.test import Client

from payments.models import Payment
from tests.gateway.test_settings import GOOD_PRODUCTION_ENV, _start

pytestmark = pytest.mark.django_db

TOKEN = "m" * 40


@pytest.fixture
def monitoring_only(settings):
    import ipaddress

    settings.METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8", "127.0.0.0/8"]
    settings.METRICS_NETWORKS = [ipaddress.ip_network(n) for n in settings.METRICS_ALLOWED_NETWORKS]
    settings.METRICS_BEARER_TOKEN = TOKEN


# --- /metrics ------------------------------------------------------------------------------


def test_metrics_are_served_to_the_monitoring_network(monitoring_only) -> None:
    response = Client(REMOTE_ADDR="10.1.2.3").get("/metrics")

    assert response.status_code == 200
    assert b"gateway_" in response.content or b"django_http" in response.content


def test_metrics_are_refused_to_other_addresses(monitoring_only) -> None:
    response = Client(REMOTE_ADDR="203.0.113.9").get("/metrics")

    assert response.status_code == 403
    assert b"# HELP" not in response.content


def test_metrics_are_refused_when_relayed_for_an_outside_client(monitoring_only) -> None:
    # Through the public ingress the peer is a private address; the client is not.
    response = Client(REMOTE_ADDR="10.0.0.5").get(
        "/metrics", HTTP_X_FORWARDED_FOR="198.51.100.7, 10.0.0.5"
    )

    assert response.status_code == 403


def test_metrics_are_served_anywhere_with_the_bearer_token(monitoring_only) -> None:
    outside = Client(REMOTE_ADDR="203.0.113.9")

    assert outside.get("/metrics", HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
    assert outside.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403


@pytest.fixture
def worker_metrics():
    """A job worker's /metrics server, on a free loopback port, over real HTTP."""
    from gateway import metrics

    server = metrics.serve_worker_metrics(0, "127.0.0.1")
    yield f"http://127.0.0.1:{server.server_port}/metrics"
    server.shutdown()
    server.server_close()


def _scrape(url: str, **headers: str) -> tuple[int, bytes]:
    import urllib.error
    import urllib.request

    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers)) as answer:  # noqa: S310  # nosec B310  # loopback
            return answer.status, answer.read()
    except urllib.error.HTTPError as refused:
        return refused.code, refused.read()


def test_a_workers_metrics_port_is_served_to_the_monitoring_network(
    monitoring_only, worker_metrics
) -> None:
    status, body = _scrape(worker_metrics)  # from 127.0.0.1, in the allowed networks

    assert status == 200
    assert b"# HELP" in body


def test_a_workers_metrics_port_refuses_other_addresses(settings, worker_metrics) -> None:
    import ipaddress

    settings.METRICS_NETWORKS = [ipaddress.ip_network("10.0.0.0/8")]
    settings.METRICS_BEARER_TOKEN = TOKEN

    status, body = _scrape(worker_metrics)
    assert (status, body) == (403, b"metrics are served to the monitoring network only\n")
    assert _scrape(worker_metrics, Authorization="Bearer wrong")[0] == 403
    status, body = _scrape(worker_metrics, Authorization=f"Bearer {TOKEN}")
    assert status == 200
    assert b"# HELP" in body


def test_a_workers_metrics_port_refuses_a_relayed_outside_client(
    monitoring_only, worker_metrics
) -> None:
    assert _scrape(worker_metrics, **{"X-Forwarded-For": "198.51.100.7"})[0] == 403


def test_production_defaults_keep_metrics_and_docs_off_the_public_internet() -> None:
    printed = _settings_in(
        GOOD_PRODUCTION_ENV, "METRICS_ALLOWED_NETWORKS", "API_DOCS", "CONTENT_SECURITY_POLICY"
    )

    assert "0.0.0.0/0" not in printed["METRICS_ALLOWED_NETWORKS"]
    assert "10.0.0.0/8" in printed["METRICS_ALLOWED_NETWORKS"]
    assert printed["API_DOCS"] == "'staff'"
    assert "script-src 'self'" in printed["CONTENT_SECURITY_POLICY"]


@pytest.mark.parametrize(
    ("name", "value"),
    [("METRICS_BEARER_TOKEN", "short"), ("METRICS_ALLOWED_NETWORKS", "10.0.0.0/33")],
)
def test_a_bad_metrics_setting_refuses_to_start(name: str, value: str) -> None:
    result = _start({**GOOD_PRODUCTION_ENV, name: value})

    assert result.returncode != 0
    assert name in result.stderr


# --- the API docs ----------------------------------------------------------------------------


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_docs_are_behind_a_staff_login_when_set_to_staff(settings, path, staff) -> None:
    settings.API_DOCS = "staff"

    anonymous = Client().get(path)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith("/admin/login/?next=")

    assert staff.get(path).status_code == 200


def test_docs_refuse_a_signed_in_user_who_is_not_staff(settings, django_user_model) -> None:
    settings.API_DOCS = "staff"
    client = Client()
    client.force_login(django_user_model.objects.create_user("merchant", password="x" * 20))

    assert client.get("/api/schema/").status_code == 302


@pytest.mark.parametrize("path", ["/api/schema/", "/api/docs/"])
def test_docs_are_not_found_when_off(settings, path, staff) -> None:
    settings.API_DOCS = "off"

    assert Client().get(path).status_code == 404
    assert staff.get(path).status_code == 404


# --- Content-Security-Policy -----------------------------------------------------------------


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_pages_carry_a_strict_content_security_policy(path) -> None:
    response = Client().get(path)

    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    directives = dict(d.strip().split(" ", 1) for d in policy.split(";"))
    assert directives["script-src"] == "'self'"
    assert directives["style-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "unsafe" not in policy


@pytest.mark.parametrize("path", ["/admin/login/", "/api/docs/"])
def test_pages_hold_no_inline_script_or_style(path) -> None:
    html = Client().get(path).content.decode()

    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>\s*\S", html), "inline script"
    assert "<style" not in html
    assert not re.search(r"\son[a-z]+=", html), "inline event handler"


def test_swagger_ui_start_up_script_is_a_file_of_ours() -> None:
    html = Client().get("/api/docs/").content.decode()
    scripts = re.findall(r'<script src="([^"]+)"', html)

    start = [src for src in scripts if "script" in src.split("?", 1)[-1]]
    assert start, scripts
    answer = Client().get(start[0].replace("&amp;", "&"))
    assert answer.status_code == 200
    assert "javascript" in answer["Content-Type"]
    assert "/api/schema/" in answer.content.decode()


def test_api_answers_carry_no_content_security_policy(api) -> None:
    # JSON is not a page; the header would only cost bytes.
    assert "Content-Security-Policy" not in api.get("/api/v1/balance")


# --- Cache-Control ---------------------------------------------------------------------------


def test_api_answers_are_not_stored(api) -> None:
    assert api.get("/api/v1/balance")["Cache-Control"] == "no-store"


def test_api_errors_are_not_stored_either(client_for) -> None:
    response = client_for("sk_test_wrong").get("/api/v1/balance")

    assert response.status_code == 401
    assert response["Cache-Control"] == "no-store"


def test_a_replayed_answer_is_not_stored(api) -> None:
    body = {"amount": "5.00", "currency": "ZMW"}
    api.post("/api/v1/test/top-ups", body, format="json", HTTP_IDEMPOTENCY_KEY="k-no-store")
    replay = api.post(
        "/api/v1/test/top-ups", body, format="json", HTTP_IDEMPOTENCY_KEY="k-no-store"
    )

    assert replay["Idempotent-Replayed"] == "true"
    assert replay["Cache-Control"] == "no-store"


# --- behind a TLS proxy ----------------------------------------------------------------------


def test_forwarded_proto_is_ignored_unless_trusted(settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = None
    response = Client().get("/health", HTTP_X_FORWARDED_PROTO="https")

    assert "Strict-Transport-Security" not in response


def test_trusted_proxy_https_gets_hsts_and_a_secure_redirect(settings) -> None:
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True

    secure = Client().get("/admin/login/", HTTP_X_FORWARDED_PROTO="https")
    plain = Client().get("/admin/login/", HTTP_X_FORWARDED_PROTO="http")

    assert secure.status_code == 200
    assert secure["Strict-Transport-Security"].startswith("max-age=31536000")
    assert plain.status_code == 301
    assert plain["Location"].startswith("https://")


def test_forwarded_host_is_used_only_when_set(settings) -> None:
    settings.ALLOWED_HOSTS = ["pay.example.zm", "testserver"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    settings.SECURE_SSL_REDIRECT = True
    proxied = Client(HTTP_X_FORWARDED_PROTO="http", HTTP_X_FORWARDED_HOST="pay.example.zm")

    settings.USE_X_FORWARDED_HOST = False
    assert proxied.get("/admin/login/")["Location"].startswith("https://testserver/")
    settings.USE_X_FORWARDED_HOST = True
    assert proxied.get("/admin/login/")["Location"].startswith("https://pay.example.zm/")


def _proxied_admin_sign_in(settings, django_user_model, origin: str) -> int:
    # The proxy forwards to the service by its cluster name: the Origin a browser sends
    # (the public host) is not the Host Django sees, so CSRF refuses it unless trusted.
    django_user_model.objects.create_superuser("ops", "ops@example.zm", "a-long-password")
    settings.ALLOWED_HOSTS = ["gateway"]
    settings.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    client = Client(enforce_csrf_checks=True, HTTP_X_FORWARDED_PROTO="https", HTTP_HOST="gateway")
    page = client.get("/admin/login/")
    found = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.content.decode())
    assert found is not None
    token = found[1]
    form = {"username": "ops", "password": "a-long-password", "csrfmiddlewaretoken": token}
    return client.post("/admin/login/?next=/admin/", form, HTTP_ORIGIN=origin).status_code


def test_admin_sign_in_through_the_proxy_is_refused_for_an_untrusted_origin(
    settings, django_user_model
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = []

    assert _proxied_admin_sign_in(settings, django_user_model, "https://pay.example.zm") == 403


def test_admin_sign_in_through_the_proxy_works_for_a_trusted_origin(
    settings, django_user_model
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://pay.example.zm"]

    assert _proxied_admin_sign_in(settings, django_user_model, "https://pay.example.zm") == 302


def test_admin_sign_in_refuses_another_origin_whatever_is_trusted(
    settings, django_user_model
) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://pay.example.zm"]

    assert _proxied_admin_sign_in(settings, django_user_model, "https://evil.example") == 403


def _settings_in(env: dict[str, str], *names: str) -> dict[str, str]:
    code = (
        "import json; from django.conf import settings; "
        f"print(json.dumps({{n: repr(getattr(settings, n)) for n in {list(names)!r}}}))"
    )
    result = _start(env, code)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- properties a client may not set -----------------------------------------------------------


def test_a_body_cannot_set_what_the_gateway_decides(api, test_key) -> None:
    # OWASP API3 (mass assignment): only the declared input fields are read.
    body = {
        "amount": "150.00",
        "msisdn": "0961234567",
        "external_id": "mass-1",
        "status": "SUCCESSFUL",
        "fee": "0.00",
        "mode": "live",
        "tenant": "another",
        "provider_reference": "forged",
    }

    created = api.post("/api/v1/payments", body, format="json").json()

    assert created["status"] == "PENDING"
    assert created["mode"] == "test"
    assert created["provider_reference"] != "forged"
    payment = Payment.objects.get(public_id=created["id"])
    assert payment.tenant == test_key.api_key.tenant


# --- the policy in a real browser ------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("path", "rendered"), [("/api/docs/", "payments_create"), ("/admin/login/", "id_username")]
)
def test_a_browser_runs_the_pages_under_the_policy_without_a_violation(
    live_server, path, rendered
) -> None:
    # Headless Chromium reports every blocked script, style or image on its console; Swagger
    # UI only draws the operations if its scripts ran and the schema loaded.
    chromium = shutil.which("chromium")
    assert chromium, "chromium is needed (.ci/run installs it)"
    result = subprocess.run(
        [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-background-networking",
            "--disable-gpu",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--dump-dom",
            f"{live_server.url}{path}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert rendered in result.stdout, result.stderr[-3000:]
    assert "Content Security Policy" not in result.stderr, result.stderr[-3000:]
