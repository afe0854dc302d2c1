"""The production overlay as rendered (kubectl kustomize): what the issue asks of each
object. The schemas themselves are checked by `make deploy-check` (kubernetes-validate)."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    shutil.which("kubectl") is None,
    reason="kubectl renders the overlay (make deploy-check installs it)",
)


@pytest.fixture(scope="module")
def rendered() -> dict[tuple[str, str], dict]:
    out = subprocess.run(
        ["kubectl", "kustomize", str(ROOT / "deploy" / "k8s" / "overlays" / "production")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {(doc["kind"], doc["metadata"]["name"]): doc for doc in yaml.safe_load_all(out)}


def _longest_operator_call() -> float:
    return max(
        getattr(settings, f"{operator}_CONNECT_TIMEOUT") + getattr(settings, name)
        for operator in ("MTN", "AIRTEL", "ZAMTEL")
        for name in dir(settings)
        if name.startswith(f"{operator}_READ_TIMEOUT_")
    )


def test_every_object_is_in_the_namespace_with_the_released_image(rendered) -> None:
    for (kind, name), doc in rendered.items():
        if kind != "Namespace":
            assert doc["metadata"]["namespace"] == "gateway", (kind, name)
    for kind, name in rendered:
        if kind in {"Deployment", "Job"}:
            spec = rendered[kind, name]["spec"]["template"]["spec"]
            for container in spec["containers"]:
                assert container["image"] == "ghcr.io/OWNER/zm-payment-gateway:1.0.0"


def test_pods_are_non_root_read_only_and_limited(rendered) -> None:
    pods = [doc for (kind, _), doc in rendered.items() if kind in {"Deployment", "Job"}]
    assert len(pods) == 5  # web, worker, webhooks, scheduler, migrate
    for doc in pods:
        spec = doc["spec"]["template"]["spec"]
        assert spec["securityContext"]["runAsNonRoot"] is True
        assert spec["automountServiceAccountToken"] is False
        for container in spec["containers"]:
            security = container["securityContext"]
            assert security["readOnlyRootFilesystem"] is True
            assert security["allowPrivilegeEscalation"] is False
            assert security["capabilities"]["drop"] == ["ALL"]
            assert container["resources"]["limits"]["memory"]
            assert container["resources"]["requests"]["cpu"]
            assert {"name": "tmp", "mountPath": "/tmp"} in container["volumeMounts"]  # noqa: S108  # an emptyDir
            refs = [
                source.get("configMapRef") or source.get("secretRef")
                for source in container["envFrom"]
            ]
            assert {"name": "gateway-config"} in refs and {"name": "gateway-secrets"} in refs


def test_web_probes_and_workers_outlast_the_longest_operator_call(rendered) -> None:
    web = rendered["Deployment", "web"]["spec"]["template"]["spec"]["containers"][0]
    assert web["startupProbe"]["httpGet"]["path"] == "/health/live"
    assert web["readinessProbe"]["httpGet"]["path"] == "/health/ready"
    assert web["livenessProbe"]["httpGet"]["path"] == "/health"  # no database: no restarts
    grace = float(rendered["ConfigMap", "gateway-config"]["data"]["WORKER_SHUTDOWN_GRACE_SECONDS"])
    assert grace > _longest_operator_call()
    for name in ("worker", "webhooks", "scheduler"):
        pod = rendered["Deployment", name]["spec"]["template"]["spec"]
        assert pod["terminationGracePeriodSeconds"] > grace
        probe = pod["containers"][0]["livenessProbe"]["httpGet"]
        port = rendered["ConfigMap", "gateway-config"]["data"]["WORKER_METRICS_PORT"]
        assert (probe["path"], pod["containers"][0]["ports"][0]["containerPort"]) == (
            "/metrics",
            int(port),
        )


def test_scaling_disruption_and_the_migration_job(rendered) -> None:
    for name in ("web", "worker"):
        hpa = rendered["HorizontalPodAutoscaler", name]["spec"]
        assert hpa["scaleTargetRef"]["name"] == name and hpa["minReplicas"] >= 2
        pdb = rendered["PodDisruptionBudget", name]["spec"]
        assert pdb["selector"]["matchLabels"]["app.kubernetes.io/name"] == f"gateway-{name}"
    command = rendered["Job", "gateway-migrate"]["spec"]["template"]["spec"]["containers"][0]
    assert "migrate --noinput" in command["command"][-1]


def test_ingress_never_exposes_metrics_or_the_simulators(rendered) -> None:
    paths = [
        path["path"]
        for rule in rendered["Ingress", "web"]["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert "/api/" in paths
    assert not [p for p in paths if p in {"/", "/metrics"} or p.startswith("/sandbox")]


def test_egress_only_to_dns_the_database_redis_and_public_https(rendered) -> None:
    policy = rendered["NetworkPolicy", "gateway"]["spec"]
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    ports = {port["port"] for rule in policy["egress"] for port in rule["ports"]}
    assert ports == {53, 5432, 6379, 443, 8443}
    by_port = {rule["ports"][0]["port"]: rule["to"][0] for rule in policy["egress"]}
    assert by_port[5432]["ipBlock"]["cidr"] == "10.20.0.5/32"  # the overlay's database
    public = by_port[443]["ipBlock"]
    assert public["cidr"] == "0.0.0.0/0" and "10.0.0.0/8" in public["except"]
