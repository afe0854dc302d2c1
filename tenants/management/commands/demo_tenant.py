from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import SYSTEM
from gateway import errors
from payments import services as payments
from payments.ledger.models import Entry, EntryKind
from tenants import selectors, services
from tenants.models import Mode, Tenant

DEMO_NAME = "Demo merchant"
DEMO_FUNDS = Decimal("10000.00")


class Command(BaseCommand):
    help = (
        "Development only: make sure a demo tenant exists and print a working test key and a "
        "curl. The key is kept in var/demo_api_key (never in the database) so reruns reuse it."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default="http://127.0.0.1:8000")

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("demo_tenant is for development; use create_tenant in production.")
        key_file = Path(settings.VAR_DIR) / "demo_api_key"
        secret = self._working_key(key_file)
        if secret is None:
            tenant = Tenant.objects.filter(slug="demo-merchant").first()
            if tenant is None:
                secret = services.create_tenant(name=DEMO_NAME, actor=SYSTEM).keys[0].secret
            else:
                secret = services.issue_api_key(
                    tenant=tenant, mode=Mode.TEST, name="demo", actor=SYSTEM
                ).secret
            key_file.touch(mode=0o600)
            key_file.write_text(secret)
        self._fund_once()
        auth = f"-H 'Authorization: Bearer {secret}'"
        # A fresh external_id per run of the curl, so it can be pasted again and again.
        external_id = "demo-'\"$(date +%s%N)\"'"
        body = f'\'{{"amount": "150.00", "msisdn": "0961234567", "external_id": "{external_id}"}}\''
        self.stdout.write(
            f"\nDemo tenant test key: {secret} (test balance topped up with K{DEMO_FUNDS})\n"
            "Collect K150 from a test wallet (the MTN simulator approves it in about 2 s):\n"
            f"  curl -s -X POST {base_url}/api/v1/payments {auth} \\\n"
            f"       -H 'Content-Type: application/json' -d {body}\n"
            "Then see it SUCCESSFUL:\n"
            f"  curl -s {auth} {base_url}/api/v1/payments\n"
            f"API docs: {base_url}/api/docs/   readiness: {base_url}/health/ready\n"
        )

    def _fund_once(self) -> None:
        """Test money for the tour's payouts and refunds, the first time only."""
        tenant = Tenant.objects.get(slug="demo-merchant")
        if not Entry.objects.filter(kind=EntryKind.TOP_UP, credit_account__tenant=tenant).exists():
            payments.top_up_test_balance(
                tenant=tenant,
                mode=Mode.TEST,
                amount=DEMO_FUNDS,
                currency="ZMW",
                actor=SYSTEM,
                description="demo funds",
            )

    def _working_key(self, key_file: Path) -> str | None:
        if not key_file.exists():
            return None
        secret = key_file.read_text().strip()
        try:
            api_key = selectors.get_api_key_for_secret(secret=secret)
        except errors.GatewayError:
            return None  # revoked, expired, or from a database that was reset
        return secret if api_key.tenant.slug == "demo-merchant" else None
