"""Webhook gauges for Prometheus, read from PostgreSQL at scrape time (as payments.metrics):
the workers that deliver serve no /metrics, and any web process reports the whole system."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import timedelta

from django.db import DatabaseError, connection
from django.db.models import Count, Min, Q
from django.utils import timezone
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from webhooks.outbound.models import OPEN_STATES, Delivery, WebhookEndpoint

logger = logging.getLogger(__name__)

RECENT = timedelta(minutes=15)
QUANTILES = (0.5, 0.9, 0.99)

_NAMES = (
    "gateway_webhook_deliveries",
    "gateway_webhook_attempts_recently",
    "gateway_webhook_delivery_latency_seconds",
    "gateway_webhook_attempt_duration_seconds",
    "gateway_webhook_backlog",
    "gateway_webhook_oldest_due_seconds",
    "gateway_webhook_endpoints",
)


class WebhooksCollector(Collector):
    def describe(self) -> Iterator[GaugeMetricFamily]:
        for name in _NAMES:  # no database query at registration time
            yield GaugeMetricFamily(name, name)

    def collect(self) -> Iterator[GaugeMetricFamily]:
        try:
            yield from self._deliveries()
            yield from self._latency()
            yield from self._backlog()
            yield from self._endpoints()
        except DatabaseError:
            logger.warning("webhook metrics unavailable: database error", exc_info=True)

    def _deliveries(self) -> Iterator[GaugeMetricFamily]:
        by_state = GaugeMetricFamily(
            "gateway_webhook_deliveries", "Webhook deliveries by state", labels=["mode", "state"]
        )
        for row in Delivery.objects.values("mode", "state").annotate(count=Count("id")):
            by_state.add_metric([row["mode"], row["state"]], row["count"])
        recent = GaugeMetricFamily(
            "gateway_webhook_attempts_recently",
            "Deliveries attempted in the last 15 minutes, by outcome of their last attempt "
            "(state, and the HTTP status class or 'none' when there was no answer)",
            labels=["mode", "state", "status"],
        )
        rows = (
            Delivery.objects.filter(last_attempt_at__gte=timezone.now() - RECENT)
            .values("mode", "state", "last_status")
            .annotate(count=Count("id"))
        )
        totals: dict[tuple[str, str, str], int] = {}
        for row in rows:
            status = f"{row['last_status'] // 100}xx" if row["last_status"] else "none"
            key = (row["mode"], row["state"], status)
            totals[key] = totals.get(key, 0) + row["count"]
        for labels, count in totals.items():
            recent.add_metric(list(labels), count)
        yield from (by_state, recent)

    def _latency(self) -> Iterator[GaugeMetricFamily]:
        latency = GaugeMetricFamily(
            "gateway_webhook_delivery_latency_seconds",
            "From the event to its successful delivery, over deliveries of the last 15 minutes",
            labels=["quantile"],
        )
        duration = GaugeMetricFamily(
            "gateway_webhook_attempt_duration_seconds",
            "Duration of the last attempt of deliveries attempted in the last 15 minutes",
            labels=["quantile"],
        )
        fractions = ", ".join(str(q) for q in QUANTILES)
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT percentile_cont(ARRAY[{fractions}]) WITHIN GROUP"  # noqa: S608  # nosec B608  # constants
                " (ORDER BY extract(epoch FROM d.succeeded_at - e.created_at))"
                " FROM webhooks_delivery d JOIN webhooks_event e ON e.id = d.event_id"
                " WHERE d.succeeded_at >= %s",
                [timezone.now() - RECENT],
            )
            latencies = cursor.fetchone()[0]
            cursor.execute(
                f"SELECT percentile_cont(ARRAY[{fractions}]) WITHIN GROUP"  # noqa: S608  # nosec B608  # constants
                " (ORDER BY duration_ms / 1000.0)"
                " FROM webhooks_delivery WHERE last_attempt_at >= %s AND duration_ms IS NOT NULL",
                [timezone.now() - RECENT],
            )
            durations = cursor.fetchone()[0]
        for family, values in ((latency, latencies), (duration, durations)):
            for quantile, value in zip(QUANTILES, values or [], strict=False):
                if value is not None:
                    family.add_metric([str(quantile)], float(value))
        yield from (latency, duration)

    def _backlog(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        backlog = GaugeMetricFamily(
            "gateway_webhook_backlog", "Open deliveries due now (not yet attempted again)"
        )
        oldest = GaugeMetricFamily(
            "gateway_webhook_oldest_due_seconds",
            "How long the oldest due delivery has been waiting (0 when none is due)",
        )
        due = Delivery.objects.filter(state__in=OPEN_STATES, next_attempt_at__lte=now).aggregate(
            count=Count("id"), oldest=Min("next_attempt_at")
        )
        backlog.add_metric([], due["count"])
        oldest.add_metric([], (now - due["oldest"]).total_seconds() if due["oldest"] else 0.0)
        yield from (backlog, oldest)

    def _endpoints(self) -> Iterator[GaugeMetricFamily]:
        endpoints = GaugeMetricFamily(
            "gateway_webhook_endpoints",
            "Webhook endpoints by status; 'failing' are enabled ones whose last attempt failed",
            labels=["mode", "status"],
        )
        rows = WebhookEndpoint.objects.values("mode").annotate(
            total=Count("id"),
            disabled=Count("id", filter=Q(disabled_at__isnull=False)),
            failing=Count("id", filter=Q(disabled_at__isnull=True, consecutive_failures__gt=0)),
        )
        for row in rows:
            endpoints.add_metric([row["mode"], "disabled"], row["disabled"])
            endpoints.add_metric([row["mode"], "failing"], row["failing"])
            endpoints.add_metric([row["mode"], "enabled"], row["total"] - row["disabled"])
        yield endpoints
