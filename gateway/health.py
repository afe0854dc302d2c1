"""Probes for load balancers and orchestrators.

/health        the process answers (no I/O: a liveness probe must not fail with the database)
/health/live   the process answers and reaches PostgreSQL
/health/ready  database, migrations applied, a job worker alive; 503 until all hold
"""

from __future__ import annotations

import time
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import DatabaseError, connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone
from procrastinate.contrib.django.models import ProcrastinateWorker
from rest_framework.permissions import AllowAny
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from providers import registry

STARTED_AT = time.monotonic()
_migrations_applied = False  # once true, stays true for this code version


def database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        return True
    except DatabaseError:
        return False


def migrations_applied() -> bool:
    global _migrations_applied
    if not _migrations_applied:
        executor = MigrationExecutor(connection)
        _migrations_applied = not executor.migration_plan(executor.loader.graph.leaf_nodes())
    return _migrations_applied


def live_workers() -> int:
    fresh_since = timezone.now() - timedelta(seconds=settings.WORKER_HEARTBEAT_MAX_AGE_SECONDS)
    return ProcrastinateWorker.objects.filter(last_heartbeat__gte=fresh_since).count()


class _Probe(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]
    throttle_classes: list[Any] = []
    schema = None  # operational, not part of the merchant API


class HealthView(_Probe):
    def get(self, request: Request) -> Response:
        return Response({"status": "ok"})


class LiveView(_Probe):
    def get(self, request: Request) -> Response:
        ok = database_ok()
        return Response(
            {"status": "ok" if ok else "fail", "database": "ok" if ok else "unreachable"},
            status=200 if ok else 503,
        )


class ReadyView(_Probe):
    def get(self, request: Request) -> Response:
        checks: dict[str, Any] = {
            "database": "unreachable",
            "migrations": "unknown",
            "jobs": {},
            "providers": {},  # breaker states live in the shared cache, i.e. the database
        }
        ready = database_ok()
        if ready:
            checks["database"] = "ok"
            applied = migrations_applied()
            workers = live_workers()
            checks["migrations"] = "ok" if applied else "pending"
            checks["jobs"] = {"status": "ok" if workers else "no_worker", "workers": workers}
            checks["providers"] = registry.breaker_states()
            ready = applied and workers > 0
        body = {
            "status": "ok" if ready else "fail",
            **checks,
            "uptime": round(time.monotonic() - STARTED_AT, 1),
        }
        return Response(body, status=200 if ready else 503)
