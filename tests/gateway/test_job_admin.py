"""The job queue's page in the back-office: who may see it, and who may retry, cancel or
abort a job (a payment's submission among them), each audited."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from procrastinate.contrib.django.models import ProcrastinateJob

from audit.models import AuditLog
from gateway import staff_auth
from payments import services
from tenants.models import StaffMembership
from tests.payments.factories import PaymentFactory
from tests.staff import signed_in

pytestmark = pytest.mark.django_db

JOBS = "/admin/procrastinate/procrastinatejob/"


@pytest.fixture
def submission() -> ProcrastinateJob:
    """A payment's status-check job, waiting (todo)."""
    payment = PaymentFactory.create()
    services.request_refresh(payment=payment)
    return ProcrastinateJob.objects.filter(status="todo").latest("id")


def _cancel(client, job: ProcrastinateJob):
    return client.post(JOBS, {"action": "cancel", "_selected_action": [job.pk]}, follow=True)


def _actions(page) -> set[str]:
    form = page.context["action_form"] if page.context else None
    return {value for value, _ in form.fields["action"].choices if value} if form else set()


def test_support_sees_the_queue_but_cannot_cancel_a_job(staff_in, submission) -> None:
    client = signed_in(staff_in("support"))

    page = client.get(JOBS)
    assert page.status_code == 200
    assert _actions(page) == set()

    _cancel(client, submission)
    submission.refresh_from_db()
    assert submission.status == "todo"
    assert not AuditLog.objects.filter(action__startswith="job.").exists()


def test_ops_cancels_a_job_and_the_audit_trail_says_who(staff_in, submission) -> None:
    user = staff_in("ops")
    client = signed_in(user)
    assert _actions(client.get(JOBS)) == {"retry", "cancel", "abort"}

    _cancel(client, submission)

    submission.refresh_from_db()
    assert submission.status == "cancelled"
    row = AuditLog.objects.get(action="job.cancel")
    assert (row.actor_label, row.target_id) == (user.username, str(submission.pk))
    assert row.data["task"] == submission.task_name


def test_operating_jobs_asks_for_a_second_factor(staff_in, submission) -> None:
    user = staff_in("support")
    user.user_permissions.add(Permission.objects.get(codename="change_procrastinatejob"))
    assert staff_auth.requires_second_factor(user)

    unverified = signed_in(user, second_factor=False)
    _cancel(unverified, submission)

    submission.refresh_from_db()
    assert submission.status == "todo"


def test_staff_limited_to_a_tenant_do_not_see_the_queue(staff_in, submission) -> None:
    user = staff_in("ops")
    StaffMembership.objects.create(user=user, tenant=PaymentFactory.create().tenant)
    client = signed_in(user)

    assert client.get(JOBS).status_code == 403
    _cancel(client, submission)
    submission.refresh_from_db()
    assert submission.status == "todo"
