"""`manage.py backfill_ledger`: post payments made before the ledger existed (idempotent)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from payments.ledger import services


class Command(BaseCommand):
    help = "Post the payments that have no ledger entries yet (run once after upgrading)."

    def handle(self, *args: Any, **options: Any) -> None:
        posted = services.backfill()
        self.stdout.write(f"posted {posted} payment(s) made before the ledger")
