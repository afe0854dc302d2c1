"""Production refuses to start on a missing or insecure setting; security headers are on."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
GOOD_PRODUCTION_ENV = {
    "DJANGO_ENV": "production",
    "SECRET_KEY": "p" * 64,
    "DATABASE_URL": "postgres://gateway@127.0.0.1:9/gateway",  # never connected to
    "ALLOWED_HOSTS": "pay.example.zm",
    "PUBLIC_BASE_URL": "https://pay.example.zm",
    # Test mode only, with MTN's own sandbox: the other operators are not in use.
    "OPERATOR_MODES": "mtn:test",
    "MTN_TEST_BASE_URL": "https://sandbox.momodeveloper.mtn.com",
}


def _start(env: dict[str, str], code: str = "print('started')") -> subprocess.CompletedProcess[str]:
    """A new process with these settings runs `code` after django.setup()."""
    clean = {
        k: v
        for k, v in os.environ.items()
        if k not in {*GOOD_PRODUCTION_ENV, "DEBUG", "API_DOCS"} and "_SIMULATOR_" not in k
    }
    return subprocess.run(
        [sys.executable, "-c", f"import django; django.setup(); {code}"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "gateway.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_production_starts_with_every_required_setting() -> None:
    result = _start(GOOD_PRODUCTION_ENV)

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "DATABASE_URL", "ALLOWED_HOSTS"])
def test_production_refuses_to_start_when_setting_missing(missing: str) -> None:
    env = {k: v for k, v in GOOD_PRODUCTION_ENV.items() if k != missing}

    result = _start(env)

    assert result.returncode != 0
    assert f"{missing} must be set when DJANGO_ENV=production" in result.stderr


def test_production_refuses_debug() -> None:
    result = _start({**GOOD_PRODUCTION_ENV, "DEBUG": "true"})

    assert result.returncode != 0
    assert "DEBUG must be off" in result.stderr


def test_production_refuses_a_short_secret() -> None:
    result = _start({**GOOD_PRODUCTION_ENV, "SECRET_KEY": "changeme"})

    assert result.returncode != 0
    assert "SECRET_KEY must be at least 50 characters" in result.stderr


def test_production_refuses_the_development_public_base_url() -> None:
    result = _start({**GOOD_PRODUCTION_ENV, "PUBLIC_BASE_URL": "http://127.0.0.1:8000"})

    assert result.returncode != 0
    assert "PUBLIC_BASE_URL is the development default" in result.stderr


def test_production_refuses_a_mode_in_use_without_operator_credentials() -> None:
    # Live mode in use for MTN: MTN_LIVE_* has a base URL by default but no credentials.
    result = _start({**GOOD_PRODUCTION_ENV, "OPERATOR_MODES": "mtn:test,mtn:live"})

    assert result.returncode != 0
    for field in ("API_USER", "API_KEY", "COLLECTION_SUBSCRIPTION_KEY"):
        assert f"MTN_LIVE_{field} must be set: OPERATOR_MODES uses mtn in live mode" in (
            result.stderr
        )
    assert "MTN_TEST_" not in result.stderr  # test mode has its credentials


def test_production_refuses_a_disabled_simulator_pointed_at() -> None:
    # Test mode's default base URL is the gateway's own /sandbox/mtn, off in production.
    env = {k: v for k, v in GOOD_PRODUCTION_ENV.items() if k != "MTN_TEST_BASE_URL"}

    result = _start(env)

    assert result.returncode != 0
    assert (
        "MTN_TEST_BASE_URL points at the built-in simulator "
        "(https://pay.example.zm/sandbox/mtn) but MTN_SIMULATOR_ENABLED is off"
    ) in result.stderr


def test_production_starts_with_the_simulator_it_points_at_enabled() -> None:
    env = {k: v for k, v in GOOD_PRODUCTION_ENV.items() if k != "MTN_TEST_BASE_URL"}

    result = _start({**env, "MTN_SIMULATOR_ENABLED": "true"})

    assert result.returncode == 0, result.stderr


def test_every_operator_in_live_mode_needs_its_credentials() -> None:
    result = _start({**GOOD_PRODUCTION_ENV, "OPERATOR_MODES": "mtn:test,live"})

    assert result.returncode != 0
    for name in ("MTN_LIVE_API_KEY", "AIRTEL_LIVE_CLIENT_SECRET", "ZAMTEL_LIVE_BASE_URL"):
        assert f"{name} must be set" in result.stderr


def test_a_malformed_operator_mode_refuses_to_start() -> None:
    result = _start({**GOOD_PRODUCTION_ENV, "OPERATOR_MODES": "mtn:staging"})

    assert result.returncode != 0
    assert "OPERATOR_MODES entries are test, live or <operator>:<mode>" in result.stderr


def test_development_secret_is_generated_outside_the_repository(settings) -> None:
    secret_file = Path(settings.VAR_DIR) / "secret_key"

    assert secret_file.read_text().strip() == settings.SECRET_KEY
    assert len(settings.SECRET_KEY) >= 50
    assert secret_file.stat().st_mode & 0o077 == 0
    tracked = subprocess.run(
        ["git", "ls-files", "--error-unmatch", str(secret_file)], cwd=ROOT, capture_output=True
    )
    assert tracked.returncode != 0


def test_security_headers_are_sent() -> None:
    response = Client().get("/health", secure=True)

    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["X-Frame-Options"] == "DENY"
    assert response["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


@pytest.mark.django_db
def test_cors_allows_only_configured_origins(settings) -> None:
    settings.CORS_ALLOWED_ORIGINS = ["https://shop.example.zm"]

    allowed = Client().options(
        "/api/v1/api-keys",
        HTTP_ORIGIN="https://shop.example.zm",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )
    refused = Client().options(
        "/api/v1/api-keys",
        HTTP_ORIGIN="https://evil.example",
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
    )

    assert allowed["Access-Control-Allow-Origin"] == "https://shop.example.zm"
    assert "Access-Control-Allow-Origin" not in refused


def test_rate_limit_counters_move_to_redis_when_redis_url_is_set() -> None:
    script = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.CACHES['default']['BACKEND'], settings.CACHES['default']['LOCATION'])"
    )
    clean = {k: v for k, v in os.environ.items() if k != "REDIS_URL"}
    with_redis = subprocess.run(
        [sys.executable, "-c", script],
        env={
            **clean,
            "DJANGO_SETTINGS_MODULE": "gateway.settings",
            "REDIS_URL": "redis://127.0.0.1:6379/3",
        },
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert with_redis.stdout.split() == [
        "django.core.cache.backends.redis.RedisCache",
        "redis://127.0.0.1:6379/3",
    ]


def test_default_cache_is_the_shared_database_cache(settings) -> None:
    assert settings.CACHES["default"]["BACKEND"] == "django.core.cache.backends.db.DatabaseCache"


def _rates(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("RATE_LIMIT")}
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from django.conf import settings as s; print(s.RATE_LIMIT_READ, s.RATE_LIMIT_WRITE)",
        ],
        env={**clean, "DJANGO_SETTINGS_MODULE": "gateway.settings", **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "budgets"),
    [
        ({}, "600/m 100/m"),
        ({"RATE_LIMIT": "50/m"}, "50/m 50/m"),  # the old single budget, for both kinds
        ({"RATE_LIMIT": "50/m", "RATE_LIMIT_READ": "900/m"}, "900/m 50/m"),
        ({"RATE_LIMIT_WRITE": "10/5m"}, "600/m 10/5m"),
    ],
)
def test_rate_limits_default_to_the_deprecated_single_budget(env, budgets) -> None:
    result = _rates({"DATABASE_URL": GOOD_PRODUCTION_ENV["DATABASE_URL"], **env})

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == budgets


def test_a_malformed_rate_limit_refuses_to_start() -> None:
    result = _rates({"DATABASE_URL": GOOD_PRODUCTION_ENV["DATABASE_URL"], "RATE_LIMIT_READ": "ten"})

    assert result.returncode != 0
    assert "RATE_LIMIT_READ must be N/s, N/m, N/h, N/d or N/5m" in result.stderr
