from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.test import Client
from django.utils import timezone

from gateway import health


def _worker_heartbeat(at) -> None:
    with connection.cursor() as cursor:
        cursor.execute("INSERT INTO procrastinate_workers (last_heartbeat) VALUES (%s)", [at])


def test_health_answers_without_the_database() -> None:
    response = Client().get("/health")

    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
def test_live_checks_the_database() -> None:
    response = Client().get("/health/live")

    assert response.status_code == 200
    assert response.json()["database"] == "ok"


@pytest.mark.django_db
def test_ready_is_503_without_a_live_worker() -> None:
    _worker_heartbeat(timezone.now() - timedelta(minutes=5))  # a dead worker's last beat

    response = Client().get("/health/ready")

    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "fail"
    assert body["database"] == "ok" and body["migrations"] == "ok"
    assert body["jobs"] == {"status": "no_worker", "workers": 0}


@pytest.mark.django_db
def test_ready_is_200_with_a_live_worker() -> None:
    _worker_heartbeat(timezone.now())

    response = Client().get("/health/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["jobs"] == {"status": "ok", "workers": 1}
    assert body["providers"] == {
        provider: {"test": "closed", "live": "closed"} for provider in ("mtn", "airtel", "zamtel")
    }
    assert body["uptime"] >= 0


@pytest.mark.django_db
def test_ready_is_503_while_migrations_are_pending(monkeypatch) -> None:
    _worker_heartbeat(timezone.now())
    monkeypatch.setattr(health, "_migrations_applied", False)
    # Pretend the database is one migration behind the code.

    def one_behind(self, targets, clean_start=False):
        leaf = self.loader.graph.leaf_nodes()[0]
        return [(self.loader.graph.nodes[leaf], False)]

    monkeypatch.setattr(MigrationExecutor, "migration_plan", one_behind)

    response = Client().get("/health/ready")

    assert response.status_code == 503
    assert response.json()["migrations"] == "pending"


@pytest.mark.django_db
def test_metrics_expose_request_and_database_metrics(api) -> None:
    api.get("/api/v1/api-keys")

    text = Client().get("/metrics").content.decode()

    assert "django_http_requests_total_by_view_transport_method_total" in text
    assert 'django_db_execute_total{alias="default",vendor="postgresql"}' in text


@pytest.mark.django_db
def test_metrics_expose_business_gauges_from_the_database() -> None:
    from django.utils import timezone as tz

    from tests.payments.factories import PaymentFactory

    PaymentFactory.create()
    PaymentFactory.create(status="FAILED", failure_code="expired", completed_at=tz.now())

    text = Client().get("/metrics").content.decode()

    assert 'gateway_payments_pending{mode="test",provider="mtn"} 1.0' in text
    assert "gateway_payment_oldest_pending_seconds{" in text
    assert (
        'gateway_payments_completed_recently{failure_code="expired",mode="test",'
        'provider="mtn",status="FAILED"} 1.0'
    ) in text
    assert 'gateway_circuit_breaker_open{mode="live",provider="mtn"} 0.0' in text
    assert "# TYPE gateway_jobs gauge" in text


def test_ready_and_metrics_answer_when_the_database_is_down(monkeypatch) -> None:
    from django.db import OperationalError
    from django.db.backends.base.base import BaseDatabaseWrapper

    def refuse(self, *args, **kwargs):
        raise OperationalError("connection refused")

    monkeypatch.setattr(BaseDatabaseWrapper, "ensure_connection", refuse)

    ready = Client().get("/health/ready")
    metrics = Client().get("/metrics")

    assert ready.status_code == 503
    assert ready.json()["database"] == "unreachable"
    assert metrics.status_code == 200
    assert Client().get("/health").status_code == 200
