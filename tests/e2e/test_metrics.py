"""Payments through the real processes, then /metrics as Prometheus would scrape it.

The layout of a container deployment: the web is gunicorn with two workers sharing one
multiprocess directory; the job worker has a directory of its own and serves it on its own
port; the standalone simulator plays MTN. Every business metric must show what happened,
whichever gunicorn worker answers the scrape.
"""

from __future__ import annotations

import sys
import threading
import time
from pathlib import Path

import pytest
import requests

from tests import live, prom
from tests.e2e import processes
from tests.e2e.processes import wait_for
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db(transaction=True)

DECLINES = "260960000002"  # the payer declines the prompt: FAILED, payer_declined
FLAKY = "260960000008"  # 500 to the first request-to-pay, accepts the retry
NUMBERS = ["260961230001", "260961230002", DECLINES, FLAKY]


def scrape(url: str) -> prom.Samples:
    return prom.parse(requests.get(url, timeout=10).text)


value, total = prom.value, prom.total


@pytest.fixture
def stack(tmp_path: Path):
    web_port, simulator_port, worker_port = (live.free_port() for _ in range(3))
    web_url = f"http://127.0.0.1:{web_port}"
    env = processes.environment(
        live.database_url(),
        PUBLIC_BASE_URL=web_url,
        MTN_TEST_BASE_URL=f"http://127.0.0.1:{simulator_port}/sandbox/mtn",
        RATE_LIMIT_WRITE="10000/m",
    )
    started = [processes.start_simulator(env, tmp_path, simulator_port)]
    try:
        started.append(
            processes.Process(
                "web",
                [
                    str(Path(sys.executable).with_name("gunicorn")),
                    "gateway.wsgi",
                    "--config",
                    "gateway/gunicorn.conf.py",
                    "--bind",
                    f"127.0.0.1:{web_port}",
                ],
                {
                    **env,
                    "WEB_CONCURRENCY": "2",
                    "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics-web"),
                },
                tmp_path,
            )
        )
        worker_env = {
            **env,
            "PROMETHEUS_MULTIPROC_DIR": str(tmp_path / "metrics-worker"),
            "WORKER_METRICS_PORT": str(worker_port),
            "WORKER_METRICS_ADDRESS": "127.0.0.1",
        }
        started.append(processes.start_worker(worker_env, tmp_path))  # every queue
        assert wait_for(lambda: processes._answers(f"{web_url}/health"), within=30), started[
            1
        ].output()
        yield {
            "web": web_url,
            "worker": f"http://127.0.0.1:{worker_port}/metrics",
            "web_dir": tmp_path / "metrics-web",
            "processes": started,
        }
    finally:
        for process in started:
            process.stop(timeout=20)


def test_metrics_after_payments_through_the_simulator(stack) -> None:
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {issue_key().secret}"
    created: list[str] = []

    def create(msisdn: str) -> None:
        response = session.post(
            f"{stack['web']}/api/v1/payments",
            json={"amount": "25.00", "msisdn": msisdn, "external_id": f"m-{time.time_ns()}"},
            timeout=20,
        )
        assert response.status_code == 201, response.text
        created.append(response.json()["id"])

    # At once, so that both gunicorn workers take some of them.
    threads = [threading.Thread(target=create, args=(number,)) for number in NUMBERS]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(created) == len(NUMBERS)

    def all_final() -> bool:
        statuses = [
            session.get(f"{stack['web']}/api/v1/payments/{pid}", timeout=10).json()["status"]
            for pid in created
        ]
        return "PENDING" not in statuses

    logs = "\n".join(p.output() for p in stack["processes"])
    assert wait_for(all_final, within=60, every=0.5), logs

    # Both gunicorn workers wrote counters: the sums below are over two processes.
    pids = {path.stem.rsplit("_", 1)[1] for path in stack["web_dir"].glob("counter_*.db")}
    assert len(pids) >= 2, pids

    # The worker's last transition commits a moment before the payment reads as final.
    assert wait_for(
        lambda: total(scrape(stack["worker"]), "gateway_payments_finalized_total") == 4,
        within=10,
    ), scrape(stack["worker"])
    worker = scrape(stack["worker"])
    mtn = {"provider": "mtn", "flow": "collection", "mode": "test"}
    assert (
        value(
            worker, "gateway_payments_finalized_total", **mtn, status="SUCCESSFUL", failure_code=""
        )
        == 3
    )
    assert (
        value(
            worker,
            "gateway_payments_finalized_total",
            **mtn,
            status="FAILED",
            failure_code="payer_declined",
        )
        == 1
    )
    request_to_pay = {"provider": "mtn", "operation": "request_payment"}
    duration = "gateway_operator_request_duration_seconds_count"
    assert value(worker, duration, **request_to_pay, outcome="2xx") == 4
    assert value(worker, duration, **request_to_pay, outcome="5xx") == 1  # FLAKY's first try
    assert value(worker, "gateway_operator_errors_total", **request_to_pay, error="http_5xx") == 1
    assert total(worker, duration, provider="mtn", operation="fetch_status") >= 4
    assert total(worker, duration, provider="mtn", operation="token") >= 1
    # The system's gauges are the web's to serve, once.
    assert total(worker, "gateway_payments_pending") == 0
    assert not any(name == "gateway_payments_pending" for name, _ in worker)

    # Every scrape gives the same totals, whichever gunicorn worker answers it.
    for _ in range(6):
        web = scrape(f"{stack['web']}/metrics")
        assert value(web, "gateway_payments_created_total", **mtn) == 4
        assert total(web, "gateway_callbacks_received_total", provider="mtn") == 4
        assert value(web, "gateway_callback_lag_seconds_count", provider="mtn") == 4
        assert total(web, "gateway_payments_finalized_total") == 0  # the worker finalized them
        assert value(web, "gateway_payments_pending", provider="mtn", mode="test") == 0
        assert value(web, "gateway_payments_overdue", provider="mtn", mode="test") == 0
        for queue in ("operator", "scheduler", "webhooks"):
            assert value(web, "gateway_jobs", queue=queue, status="todo") is not None
            assert value(web, "gateway_job_queue_oldest_seconds", queue=queue) is not None
        assert value(web, "gateway_jobs", queue="operator", status="doing") == 0
        assert (
            value(web, "gateway_circuit_breaker_state", provider="mtn", mode="test", state="closed")
            == 1
        )
        assert (
            total(web, "django_http_requests_total_by_view_transport_method_total", method="POST")
            >= 4
        )
