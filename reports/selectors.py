"""Reads for reports: merchants' payment reports and settlement summaries (API), the admin
home page's volumes, and the back-office's daily summary. Every one is a bounded number of
queries, whatever the number of payments: aggregates in the database, rows in keyset pages.

Days are Africa/Lusaka days (BACKOFFICE_TIME_ZONE), the gateway's business day.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db.models import Case, Count, DecimalField, F, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from payments.ledger.models import AccountKind, Entry, EntryKind, EntryPhase
from payments.models import Payment, Status
from tenants.models import Mode, Tenant

ZERO = Decimal("0.00")
# Rows read per query by a streamed report: its memory, whatever the range.
REPORT_CHUNK = 1000
# The widest range one report or summary covers.
MAX_DAYS = 366


def zone() -> ZoneInfo:
    return ZoneInfo(settings.BACKOFFICE_TIME_ZONE)


def day_bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """Lusaka days start..end, both included, as an aware [from, to) range."""
    return (
        datetime.combine(start, time.min, tzinfo=zone()),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone()),
    )


def today() -> date:
    return timezone.now().astimezone(zone()).date()


# --- merchants' reports ---------------------------------------------------------------------


def iter_report_payments(
    *, tenant: Tenant, mode: Mode | str, start: date, end: date, chunk: int | None = None
) -> Iterator[Payment]:
    """The tenant's payments created in the days, oldest first, read `chunk` rows per query
    by keyset (created_at, id) on the list index: constant memory for any range."""
    chunk = chunk or REPORT_CHUNK
    since, until = day_bounds(start, end)
    payments = (
        Payment.objects.for_tenant(tenant, mode)
        .filter(created_at__gte=since, created_at__lt=until)
        .select_related("refund_of")
        .order_by("created_at", "id")
    )
    after: tuple[datetime, int] | None = None
    while True:
        page = payments
        if after is not None:
            page = page.filter(Q(created_at__gt=after[0]) | Q(created_at=after[0], id__gt=after[1]))
        rows = list(page[:chunk])
        yield from rows
        if len(rows) < chunk:
            return
        after = (rows[-1].created_at, rows[-1].pk)


@dataclass(frozen=True)
class SettlementRow:
    day: date
    flow: str
    status: str
    currency: str
    count: int
    gross: Decimal
    fees: Decimal
    net: Decimal


def list_settlements(
    *, tenant: Tenant, mode: Mode | str, start: date, end: date
) -> list[SettlementRow]:
    """Per Lusaka day of creation, flow, status and currency: how many payments, their gross
    amount, and what they did to the balance by the ledger (fees taken, net credited (+) or
    debited (-), posted entries only: a reservation is not a settlement). Two queries."""
    since, until = day_bounds(start, end)
    payments = Payment.objects.for_tenant(tenant, mode).filter(
        created_at__gte=since, created_at__lt=until
    )
    groups = (
        payments.annotate(day=TruncDate("created_at", tzinfo=zone()))
        .values("day", "flow", "status", "currency")
        .annotate(count=Count("id"), gross=Sum("amount"))
    )
    money = DecimalField(max_digits=16, decimal_places=2)
    posted = (
        Entry.objects.filter(
            payment__in=payments, phase__in=[EntryPhase.POSTED, EntryPhase.POST_PENDING]
        )
        .annotate(day=TruncDate("payment__created_at", tzinfo=zone()))
        .values("day", "payment__flow", "payment__status", "currency")
        .annotate(
            fees=Sum("amount", filter=Q(kind=EntryKind.FEE)),
            net=Sum(
                Case(
                    When(credit_account__kind=AccountKind.MERCHANT, then=F("amount")),
                    When(debit_account__kind=AccountKind.MERCHANT, then=-F("amount")),
                    default=Value(ZERO),
                    output_field=money,
                )
            ),
        )
    )
    ledger: dict[tuple[Any, ...], dict[str, Any]] = {
        (row["day"], row["payment__flow"], row["payment__status"], row["currency"]): dict(row)
        for row in posted
    }
    rows = []
    for group in groups:
        key = (group["day"], group["flow"], group["status"], group["currency"])
        moved = ledger.get(key, {})
        rows.append(
            SettlementRow(
                day=group["day"],
                flow=group["flow"],
                status=group["status"],
                currency=group["currency"],
                count=group["count"],
                gross=group["gross"],
                fees=moved.get("fees") or ZERO,
                net=moved.get("net") or ZERO,
            )
        )
    return sorted(rows, key=lambda row: (row.day, row.flow, row.status, row.currency))


# --- the back-office ------------------------------------------------------------------------


def _visible(queryset: QuerySet[Any], tenant_ids: Sequence[UUID] | None) -> QuerySet[Any]:
    return queryset if tenant_ids is None else queryset.filter(tenant_id__in=tenant_ids)


@dataclass(frozen=True)
class SummaryRow:
    day: date
    tenant_id: UUID
    tenant: str
    provider: str
    mode: str
    flow: str
    status: str
    count: int
    total: Decimal


def list_daily_summary(
    *, start: date, end: date, tenant_ids: Sequence[UUID] | None, mode: str | None = None
) -> list[SummaryRow]:
    """Payments per Lusaka day, tenant, operator, mode, flow and status (count and sum), for
    the tenants a staff user may see (None: all). One query."""
    since, until = day_bounds(start, end)
    payments = _visible(
        Payment.objects.filter(created_at__gte=since, created_at__lt=until), tenant_ids
    )
    if mode:
        payments = payments.filter(mode=mode)
    rows = (
        payments.annotate(day=TruncDate("created_at", tzinfo=zone()))
        .values("day", "tenant_id", "tenant__name", "provider", "mode", "flow", "status")
        .annotate(count=Count("id"), total=Sum("amount"))
        .order_by("day", "tenant__name", "tenant_id", "provider", "mode", "flow", "status")
    )
    return [
        SummaryRow(
            day=row["day"],
            tenant_id=row["tenant_id"],
            tenant=row["tenant__name"],
            provider=row["provider"],
            mode=row["mode"],
            flow=row["flow"],
            status=row["status"],
            count=row["count"],
            total=row["total"],
        )
        for row in rows
    ]


@dataclass
class Volume:
    """One operator and flow over some days."""

    provider: str
    flow: str
    count: int = 0
    value: Decimal = ZERO
    successful: int = 0
    failed: int = 0

    @property
    def success_rate(self) -> float | None:
        """Successful among the final ones (pending ones are not decided yet)."""
        final = self.successful + self.failed
        return self.successful / final if final else None

    @property
    def rate_text(self) -> str:
        rate = self.success_rate
        return "—" if rate is None else f"{rate:.0%}"


@dataclass
class Dashboard:
    today: list[Volume]
    week: list[Volume]
    # Per day of the last 7 (oldest first): {provider: count}.
    daily: list[tuple[date, dict[str, int]]]
    stuck: list[Payment]
    stuck_count: int  # capped at STUCK_COUNT_CAP


STUCK_SHOWN = 10
STUCK_COUNT_CAP = 1000


def get_dashboard(*, tenant_ids: Sequence[UUID] | None, now: datetime | None = None) -> Dashboard:
    """The admin home page: today's and the last 7 days' volume, value and success rate per
    operator and flow, and the payments stuck PENDING past their expiry. Three queries."""
    now = now or timezone.now()
    last = now.astimezone(zone()).date()
    first = last - timedelta(days=6)
    since, until = day_bounds(first, last)
    rows = (
        _visible(Payment.objects.filter(created_at__gte=since, created_at__lt=until), tenant_ids)
        .annotate(day=TruncDate("created_at", tzinfo=zone()))
        .values("day", "provider", "flow", "status")
        .annotate(count=Count("id"), value=Sum("amount"))
        .order_by()
    )
    today: dict[tuple[str, str], Volume] = {}
    week: dict[tuple[str, str], Volume] = {}
    daily: dict[date, dict[str, int]] = {first + timedelta(days=n): {} for n in range(7)}
    for row in rows:
        key = (row["provider"], row["flow"])
        buckets = [week, today] if row["day"] == last else [week]
        for bucket in buckets:
            volume = bucket.setdefault(key, Volume(*key))
            volume.count += row["count"]
            volume.value += row["value"]
            volume.successful += row["count"] if row["status"] == Status.SUCCESSFUL else 0
            volume.failed += row["count"] if row["status"] == Status.FAILED else 0
        per_day = daily.setdefault(row["day"], {})
        per_day[row["provider"]] = per_day.get(row["provider"], 0) + row["count"]
    stuck = _visible(Payment.objects.filter(status=Status.PENDING, expires_at__lt=now), tenant_ids)
    return Dashboard(
        today=sorted(today.values(), key=lambda v: (v.provider, v.flow)),
        week=sorted(week.values(), key=lambda v: (v.provider, v.flow)),
        daily=sorted(daily.items()),
        stuck=list(stuck.select_related("tenant").order_by("expires_at")[:STUCK_SHOWN]),
        stuck_count=stuck[:STUCK_COUNT_CAP].count(),
    )
