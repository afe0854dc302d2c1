"""`manage.py check_ledger`: verify every ledger invariant; exit 1 on any breach (for cron)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from payments.ledger import checks


class Command(BaseCommand):
    help = "Check the ledger's invariants; exits non-zero when one is broken."

    def handle(self, *args: Any, **options: Any) -> None:
        breaches = checks.find_breaches()
        for breach in breaches:
            self.stderr.write(f"BREACH {breach.check}: {breach.detail}")
        if breaches:
            raise CommandError(f"{len(breaches)} ledger breach(es)", returncode=1)
        self.stdout.write(f"ledger ok: {len(checks.CHECKS)} checks passed")
