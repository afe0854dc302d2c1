"""A create's one statement: payment (fee from the schedule), audit row and submission job."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal as D

import pytest
from django.db import connections, transaction
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditLog
from audit.services import SYSTEM
from payments import services
from payments.ledger import services as ledger
from payments.ledger.models import FeeSchedule
from payments.models import Flow, Payment
from tests.tenants.factories import issue_key

pytestmark = pytest.mark.django_db(transaction=True)


def _create(api, external_id: str, amount: str = "200.00") -> dict:
    response = api.post(
        "/api/v1/payments",
        {"amount": amount, "msisdn": "0961234567", "external_id": external_id},
        format="json",
        HTTP_IDEMPOTENCY_KEY=external_id,
    )
    assert response.status_code == 201, response.content
    return response.json()


def _elsewhere(work) -> None:
    """Run `work` on another database session, committed before this returns: what another
    process (the back-office, a second web worker) does."""

    failures: list[Exception] = []

    def run() -> None:
        try:
            with transaction.atomic():
                work()
        except Exception as exc:  # noqa: BLE001  # re-raised below, in the test's thread
            failures.append(exc)
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


def test_a_fee_schedule_changed_elsewhere_prices_the_very_next_payment(api, test_key) -> None:
    tenant = test_key.api_key.tenant
    assert _create(api, "before")["fee"] == "0.00"  # no schedule: no fee

    def price(percent: str, fixed: str, minimum: str = "0") -> None:
        schedule = FeeSchedule.objects.filter(tenant=tenant).first() or FeeSchedule(
            tenant=tenant, provider="mtn", flow=Flow.COLLECTION
        )
        schedule.percent, schedule.fixed, schedule.minimum = D(percent), D(fixed), D(minimum)
        ledger.save_fee_schedule(schedule=schedule, actor=SYSTEM)

    _elsewhere(lambda: price("2.5", "1.00"))
    assert _create(api, "created")["fee"] == "6.00"  # 2.5 % of 200 + 1
    _elsewhere(lambda: price("0.125", "0"))
    assert _create(api, "changed")["fee"] == "0.25"  # 0.25 exactly: rounding has no part
    _elsewhere(lambda: price("0.5", "0"))
    assert _create(api, "half", amount="1.00")["fee"] == "0.01"  # 0.005 rounds half up
    _elsewhere(lambda: price("0", "0", minimum="250.00"))
    assert _create(api, "capped")["fee"] == "200.00"  # a collection's fee never exceeds it
    _elsewhere(lambda: ledger.delete_fee_schedule(schedule=FeeSchedule.objects.get(), actor=SYSTEM))
    assert _create(api, "deleted")["fee"] == "0.00"


def test_the_submission_job_is_the_row_procrastinates_own_defer_makes(api, test_key) -> None:
    created = Payment.objects.get(public_id=_create(api, "order-1")["id"])
    ours = ProcrastinateJob.objects.get()
    services._defer("payments.submit_payment", created.pk, deduplicate=False)
    theirs = ProcrastinateJob.objects.exclude(pk=ours.pk).get()

    fields = ["queue_name", "task_name", "priority", "lock", "queueing_lock", "args"]
    fields += ["status", "scheduled_at", "attempts"]
    assert [getattr(ours, name) for name in fields] == [getattr(theirs, name) for name in fields]
    assert (ours.lock, ours.args) == (f"payment:{created.pk}", {"payment_id": created.pk})
    audit = AuditLog.objects.get(action="payment.created")
    assert (audit.target_type, audit.target_id) == ("payments.payment", str(created.pk))
    assert audit.data == {"public_id": created.public_id, "flow": "collection", "amount": "200.00"}
    assert (audit.actor_kind, audit.actor_id) == ("api_key", str(test_key.api_key.pk))
    assert audit.tenant_id == created.tenant_id and audit.created_at == created.created_at


def test_two_concurrent_creates_of_one_external_id_make_one_payment(live_server) -> None:
    import requests

    issued = issue_key()
    start = threading.Barrier(2)

    def create(key: str) -> requests.Response:
        start.wait()
        return requests.post(
            f"{live_server.url}/api/v1/payments",
            json={"amount": "15.00", "msisdn": "0961234567", "external_id": "same"},
            headers={"Authorization": f"Bearer {issued.secret}", "Idempotency-Key": key},
            timeout=30,
        )

    try:
        with ThreadPoolExecutor(2) as pool:
            answers = sorted(pool.map(create, ["a", "b"]), key=lambda answer: answer.status_code)
    finally:
        connections.close_all()

    created, refused = answers
    assert (created.status_code, refused.status_code) == (201, 409)
    assert refused.json()["code"] == "duplicate_external_id"
    assert refused.json()["payment_id"] == created.json()["id"]
    assert Payment.objects.count() == 1
    assert (
        ProcrastinateJob.objects.count()
        == AuditLog.objects.filter(action="payment.created").count()
        == 1
    )
