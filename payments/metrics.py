"""Business gauges for Prometheus, read from PostgreSQL at scrape time.

They are computed from the database, not counted in memory, so they are the same whichever
process is scraped: the job workers (which finish payments) serve no /metrics of their own.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db import DatabaseError
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from payments.models import Payment, Status

logger = logging.getLogger(__name__)

RECENT = timedelta(minutes=15)


_NAMES = (
    "gateway_payments_pending",
    "gateway_payment_oldest_pending_seconds",
    "gateway_payments_completed_recently",
    "gateway_payments_needing_review",
    "gateway_jobs",
    "gateway_circuit_breaker_open",
)


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
                oldest=Min("created_at", filter=Q(review_flagged_at__isnull=True)),
            )
        )
        for row in rows:
            labels = [row["provider"], row["mode"]]
            pending.add_metric(labels, row["count"])
            if row["oldest"] is not None:
                oldest.add_metric(labels, (now - row["oldest"]).total_seconds())
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
        yield from (pending, oldest, recent, review)

    def _jobs(self) -> Iterator[GaugeMetricFamily]:
        from procrastinate.contrib.django.models import ProcrastinateJob

        jobs = GaugeMetricFamily(
            "gateway_jobs", "Jobs waiting or running, per queue", labels=["queue", "status"]
        )
        rows = (
            ProcrastinateJob.objects.filter(status__in=["todo", "doing"])
            .values("queue_name", "status")
            .annotate(count=Count("id"))
        )
        for row in rows:
            jobs.add_metric([row["queue_name"], row["status"]], row["count"])
        yield jobs

    def _breakers(self) -> Iterator[GaugeMetricFamily]:
        from providers import registry

        breakers = GaugeMetricFamily(
            "gateway_circuit_breaker_open",
            "1 while an operator's circuit breaker is open (calls fail fast)",
            labels=["provider", "mode"],
        )
        for provider, modes in registry.breaker_states().items():
            for mode, state in modes.items():
                breakers.add_metric([provider, mode], 1 if state == "open" else 0)
        yield breakers
