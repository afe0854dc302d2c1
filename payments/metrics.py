"""Business metrics for Prometheus (gateway/metrics.py says how they are served).

Counters of payments created and finalized are counted when their transaction commits, by
the process that commits it. The gauges are read from PostgreSQL at scrape time, so they are
the same whichever process is scraped, and every series a dashboard or an alert needs exists
with 0 when nothing is there (a queue with no job, a mode with no pending payment).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db import DatabaseError, transaction
from django.db.models import Count, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payments.models import Payment, Status
from tenants.models import Mode

logger = logging.getLogger(__name__)

RECENT = timedelta(minutes=15)


_NAMES = (
    "gateway_payments_pending",
    "gateway_payments_overdue",
    "gateway_payment_oldest_pending_seconds",
    "gateway_payments_completed_recently",
    "gateway_payments_needing_review",
    "gateway_jobs",
    "gateway_job_queue_oldest_seconds",
    "gateway_circuit_breaker_open",
    "gateway_circuit_breaker_state",
)
BREAKER_STATES = ("closed", "open", "half_open")
JOB_STATUSES = ("todo", "doing")

# Labels are bounded enumerations (operator, flow, mode, status, failure code): never a tenant.
PAYMENTS_CREATED = Counter(
    "gateway_payments_created",
    "Payments accepted (committed), by operator, flow and mode",
    ["provider", "flow", "mode"],
)
PAYMENTS_FINALIZED = Counter(
    "gateway_payments_finalized",
    "Payments that reached a final status, by operator, flow, mode, status and failure code",
    ["provider", "flow", "mode", "status", "failure_code"],
)


def count_created(payment: Payment) -> None:
    labels = {"provider": payment.provider, "flow": payment.flow, "mode": payment.mode}
    transaction.on_commit(PAYMENTS_CREATED.labels(**labels).inc)


def count_finalized(payment: Payment) -> None:
    labels = {
        "provider": payment.provider,
        "flow": payment.flow,
        "mode": payment.mode,
        "status": payment.status,
        "failure_code": payment.failure_code,
    }
    transaction.on_commit(PAYMENTS_FINALIZED.labels(**labels).inc)


def _every_provider_and_mode() -> list[list[str]]:
    from providers import registry

    return [[provider.value, mode.value] for provider in registry.supported() for mode in Mode]


class PaymentsCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        # Without describe() the registry would call collect(), and query the database, at
        # registration time (during app loading).
        for name in _NAMES:
            yield GaugeMetricFamily(name, name)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            yield from self._payments()
            yield from self._jobs()
            yield from self._breakers()
        except DatabaseError:
            # /metrics must answer even when PostgreSQL does not; the db metrics show why.
            logger.warning("business metrics unavailable: database error", exc_info=True)

    def _payments(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        pending = GaugeMetricFamily(
            "gateway_payments_pending",
            "Payments waiting for a final status",
            labels=["provider", "mode"],
        )
        overdue = GaugeMetricFamily(
            "gateway_payments_overdue",
            "Pending payments past their expiry (expires_at): expiry should have failed them",
            labels=["provider", "mode"],
        )
        oldest = GaugeMetricFamily(
            "gateway_payment_oldest_pending_seconds",
            "Age of the oldest pending payment (not counting those under manual review)",
            labels=["provider", "mode"],
        )
        rows = (
            Payment.objects.filter(status=Status.PENDING)
            .values("provider", "mode")
            # Those waiting for ops are left out of the oldest: they wait by design, and would
            # otherwise keep an expiry alert firing (gateway_payments_needing_review counts them).
            .annotate(
                count=Count("id"),
                overdue=Count("id", filter=Q(expires_at__lt=now, review_flagged_at__isnull=True)),
                oldest=Min("created_at", filter=Q(review_flagged_at__isnull=True)),
            )
        )
        found = {(row["provider"], row["mode"]): row for row in rows}
        for labels in _every_provider_and_mode():
            row = found.get((labels[0], labels[1]))
            pending.add_metric(labels, row["count"] if row else 0)
            overdue.add_metric(labels, row["overdue"] if row else 0)
            waited = (now - row["oldest"]).total_seconds() if row and row["oldest"] else 0.0
            oldest.add_metric(labels, waited)
        recent = GaugeMetricFamily(
            "gateway_payments_completed_recently",
            "Payments that reached a final status in the last 15 minutes",
            labels=["provider", "mode", "status", "failure_code"],
        )
        finished = (
            Payment.objects.filter(completed_at__gte=now - RECENT)
            .values("provider", "mode", "status", "failure_code")
            .annotate(count=Count("id"))
        )
        for done in finished:
            labels = [done["provider"], done["mode"], done["status"], done["failure_code"]]
            recent.add_metric(labels, done["count"])
        review = GaugeMetricFamily(
            "gateway_payments_needing_review",
            "Pending payments only ops can settle (outcome unknown, no operator enquiry)",
            labels=["provider", "mode", "flow"],
        )
        flagged = (
            Payment.objects.filter(status=Status.PENDING, review_flagged_at__isnull=False)
            .values("provider", "mode", "flow")
            .annotate(count=Count("id"))
        )
        for waiting in flagged:
            review.add_metric(
                [waiting["provider"], waiting["mode"], waiting["flow"]], waiting["count"]
            )
        yield from (pending, overdue, oldest, recent, review)

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        from procrastinate.contrib.django import app
        from procrastinate.contrib.django.models import ProcrastinateEvent, ProcrastinateJob

        now = timezone.now()
        jobs = GaugeMetricFamily(
            "gateway_jobs", "Jobs waiting or running, per queue", labels=["queue", "status"]
        )
        oldest = GaugeMetricFamily(
            "gateway_job_queue_oldest_seconds",
            "How long the oldest due job of a queue has waited to start (0 when none waits)",
            labels=["queue"],
        )
        counts = {
            (row["queue_name"], row["status"]): row["count"]
            for row in ProcrastinateJob.objects.filter(status__in=JOB_STATUSES)
            .values("queue_name", "status")
            .annotate(count=Count("id"))
        }
        # A due job has waited since it was scheduled for, or else since it was deferred.
        deferred_at = (
            ProcrastinateEvent.objects.filter(job=OuterRef("pk"), type="deferred")
            .order_by("at")
            .values("at")[:1]
        )
        waiting = {
            row["queue_name"]: row["since"]
            for row in ProcrastinateJob.objects.filter(status="todo")
            .filter(Q(scheduled_at__isnull=True) | Q(scheduled_at__lte=now))
            .values("queue_name")
            .annotate(since=Min(Coalesce("scheduled_at", Subquery(deferred_at))))
        }
        # Every queue a task is declared on, and any other queue that has jobs.
        queues = sorted({task.queue for task in app.tasks.values()} | {q for q, _ in counts})
        for queue in queues:
            for status in JOB_STATUSES:
                jobs.add_metric([queue, status], counts.get((queue, status), 0))
            since = waiting.get(queue)
            oldest.add_metric([queue], max(0.0, (now - since).total_seconds()) if since else 0.0)
        yield from (jobs, oldest)

    def _breakers(self) -> Iterator[GaugeMetricFamily]:
        from providers import registry

        breakers = GaugeMetricFamily(
            "gateway_circuit_breaker_open",
            "1 while an operator's circuit breaker is open (calls fail fast)",
            labels=["provider", "mode"],
        )
        states = GaugeMetricFamily(
            "gateway_circuit_breaker_state",
            "1 for each operator breaker's current state (closed, open, half_open), else 0",
            labels=["provider", "mode", "state"],
        )
        for provider, modes in registry.breaker_states().items():
            for mode, state in modes.items():
                breakers.add_metric([provider, mode], 1 if state == "open" else 0)
                for each in BREAKER_STATES:
                    states.add_metric([provider, mode, each], 1 if state == each else 0)
        yield from (breakers, states)
