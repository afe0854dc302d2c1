"""deploy/compose.yaml as far as it can be checked without Docker (which cannot run here;
`make deploy-check` runs `docker-compose config` on it): the gateway's settings accept its
environment in production, test mode points at the simulators service, and every long-running
service restarts, is limited and is health-checked."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text())
SERVICES = COMPOSE["services"]
GATEWAY = ["migrate", "simulators", "web", "worker", "webhooks", "scheduler"]


def _settings(env: dict[str, str], code: str) -> subprocess.CompletedProcess[str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("MTN_", "AIRTEL_", "ZAMTEL_"))
    }
    return subprocess.run(
        [
            sys.executable,
            "-c",
            f"import django; django.setup(); from django.conf import settings; {code}",
        ],
        env={**clean, **env, "SECRET_KEY": "k" * 64, "DJANGO_SETTINGS_MODULE": "gateway.settings"},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("service", ["web", "worker", "simulators"])
def test_production_settings_accept_the_stack(service: str) -> None:
    env = {k: str(v) for k, v in SERVICES[service]["environment"].items()}

    result = _settings(env, "print(settings.PRODUCTION, settings.ALLOW_SIGNUP)")

    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["True", "False"]  # production, sign-up off


def test_test_mode_points_at_the_simulators_service_which_serves_them() -> None:
    env = SERVICES["web"]["environment"]
    command = SERVICES["simulators"]["command"]
    port = command[command.index("--port") + 1]
    for operator in ("MTN", "AIRTEL", "ZAMTEL"):
        url = urlsplit(env[f"{operator}_TEST_BASE_URL"])
        assert (url.hostname, str(url.port)) == ("simulators", port)
        assert url.path == f"/sandbox/{operator.lower()}"
        assert SERVICES["simulators"]["environment"][f"{operator}_SIMULATOR_ENABLED"] == "true"
        assert env.get(f"{operator}_SIMULATOR_ENABLED", "false") == "false"
    # Callbacks go back to the web service, which answers to that host name.
    assert urlsplit(env["PUBLIC_BASE_URL"]).hostname in env["ALLOWED_HOSTS"].split(",")
    assert "simulators" in env["ALLOWED_HOSTS"].split(",")
    assert "sandbox" in SERVICES["scheduler"]["command"][4].split(",")  # simulator callbacks


def test_every_service_restarts_is_limited_and_long_running_ones_are_health_checked() -> None:
    for name, service in SERVICES.items():
        expected = "no" if name == "migrate" else "unless-stopped"
        assert service["restart"] == expected, name
        assert service["deploy"]["resources"]["limits"]["memory"], name
    for name in ("db", "redis", "simulators", "web", "worker", "webhooks", "scheduler"):
        assert SERVICES[name]["healthcheck"]["test"], name
    for name in GATEWAY:
        if name != "migrate":
            assert SERVICES[name]["depends_on"]["migrate"] == {
                "condition": "service_completed_successfully"
            }


def test_workers_health_check_the_port_prometheus_scrapes() -> None:
    prometheus = yaml.safe_load((ROOT / "deploy" / "prometheus" / "prometheus.yml").read_text())
    targets = {
        job["job_name"]: job["static_configs"][0]["targets"] for job in prometheus["scrape_configs"]
    }
    assert targets["gateway-web"] == ["web:8000"]
    for name in ("worker", "webhooks", "scheduler"):
        port = SERVICES[name]["environment"]["WORKER_METRICS_PORT"]
        assert f"{name}:{port}" in targets["gateway-worker"]
        assert f"127.0.0.1:{port}/metrics" in SERVICES[name]["healthcheck"]["test"][-1]
    mounted = " ".join(SERVICES["prometheus"]["volumes"] + SERVICES["grafana"]["volumes"])
    assert "alerts.yml" in mounted and "grafana/dashboards" in mounted
