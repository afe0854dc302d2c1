"""The dashboard and the alert rules query only metrics the gateway exports, and every
alert links to a runbook section that exists. (promtool checks the rules' syntax:
`make deploy-check`.)"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = ROOT / "deploy" / "grafana" / "dashboards" / "gateway.json"
ALERTS = ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK = ROOT / "docs" / "runbook.md"
METRIC = re.compile(r"\b(?:gateway|django)_[a-z0-9_]+")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "gauge": ("",)}


@pytest.fixture
def exported(db) -> set[str]:
    """Every series name /metrics serves (a family's samples by its type's suffixes)."""
    text = Client().get("/metrics").content.decode()
    names: set[str] = set()
    for family in text_string_to_metric_families(text):
        names |= {family.name + suffix for suffix in SUFFIXES.get(family.type, ("",))}
        names |= {sample.name for sample in family.samples}
    return names


def _panels() -> list[dict]:
    return json.loads(DASHBOARD.read_text())["panels"]


def _alerts() -> list[dict]:
    groups = yaml.safe_load(ALERTS.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def test_the_dashboard_is_a_grafana_dashboard_with_the_issue_panels() -> None:
    dashboard = json.loads(DASHBOARD.read_text())

    assert dashboard["uid"] and dashboard["title"] and dashboard["schemaVersion"] >= 36
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert panel["type"] == "timeseries" and panel["title"]
        assert panel["datasource"]["uid"] == "prometheus"  # the provisioned data source
        assert set(panel["gridPos"]) == {"h", "w", "x", "y"}
        assert panel["targets"] and all(target["expr"] for target in panel["targets"])
    queried = " ".join(t["expr"] for p in dashboard["panels"] for t in p["targets"])
    for needed in (
        "gateway_payments_created_total",  # traffic
        "gateway_payments_finalized_total",  # success rate
        "gateway_operator_request_duration_seconds_bucket",  # latency percentiles
        "gateway_payments_overdue",  # stuck
        "gateway_jobs",  # queue depth
        "gateway_circuit_breaker_state",
        "gateway_webhook_backlog",
    ):
        assert needed in queried


def test_every_dashboard_query_uses_exported_metrics(exported) -> None:
    for panel in _panels():
        for target in panel["targets"]:
            unknown = set(METRIC.findall(target["expr"])) - exported
            assert not unknown, f"{panel['title']}: {unknown}"


def test_every_alert_uses_exported_metrics_and_links_to_its_runbook_section(exported) -> None:
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in RUNBOOK.read_text().splitlines()
        if line.startswith("## ")
    }
    names = set()
    for rule in _alerts():
        names.add(rule["alert"])
        assert not set(METRIC.findall(rule["expr"])) - exported, rule["alert"]
        url = rule["annotations"]["runbook_url"]
        assert url.startswith("{{ $externalLabels.runbook_base }}/docs/runbook.md#"), url
        assert url.rpartition("#")[2] in anchors, rule["alert"]
        assert rule["labels"]["severity"] in {"page", "warning"}
    assert {
        "OperatorSuccessRateLow",
        "PaymentsStuck",
        "JobQueueBacklog",
        "CircuitBreakerOpen",
        "HighServerErrorRate",
        "WebhookDeadLetters",
    } <= names
