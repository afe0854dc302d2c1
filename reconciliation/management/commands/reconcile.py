"""`manage.py reconcile FILE --provider mtn [--mode live] [--tenant SLUG]`: import an operator
statement, as the admin's import page does, and print what differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.models import ActorKind
from audit.services import Actor
from gateway.errors import ValidationFailed
from providers.base import Provider
from reconciliation import services
from reconciliation.models import ItemKind
from tenants.models import Mode, Tenant


class Command(BaseCommand):
    help = "Compare an operator statement (CSV) with our payments; record a reconciliation run."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path)
        parser.add_argument("--provider", required=True, choices=Provider.values)
        parser.add_argument("--mode", default=Mode.LIVE, choices=Mode.values)
        parser.add_argument("--tenant", help="A tenant's slug: compare only its payments.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        tenant = None
        if options["tenant"]:
            tenant = Tenant.objects.filter(slug=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"No tenant {options['tenant']!r}.")
        actor = Actor(kind=ActorKind.SYSTEM, label="manage.py reconcile")
        try:
            with path.open(encoding="utf-8-sig", newline="") as rows:
                run = services.reconcile_statement(
                    provider=options["provider"],
                    mode=options["mode"],
                    tenant=tenant,
                    rows=rows,
                    filename=path.name,
                    actor=actor,
                )
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror}") from exc
        except ValidationFailed as exc:
            raise CommandError("; ".join(e["message"] for e in exc.errors or [])) from exc
        self.stdout.write(
            f"run {run.pk}: {run.lines} lines, {run.period_start}..{run.period_end}, "
            f"{run.mismatches} to look at"
        )
        for kind in ItemKind:
            self.stdout.write(f"  {kind.value}: {run.counts.get(kind.value, 0)}")
