from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from audit.services import SYSTEM
from tenants import keys, services
from tenants.models import ApiKey


class Command(BaseCommand):
    help = "Rotate an API key: print a new one; the old one works for the grace period only."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("key", help="the key's display form (sk_test_XXXXXXXXXXXX…) or prefix")
        parser.add_argument(
            "--grace-hours", type=int, default=settings.API_KEY_ROTATION_GRACE_HOURS
        )

    def handle(self, *args: Any, key: str, grace_hours: int, **options: Any) -> None:
        prefix = key.rstrip("…").rsplit("_", 1)[-1][: keys.PREFIX_LENGTH]
        api_key = ApiKey.objects.select_related("tenant").filter(prefix=prefix).first()
        if api_key is None:
            raise CommandError(f"No API key with prefix {prefix!r}.")
        issued = services.rotate_api_key(
            api_key=api_key, actor=SYSTEM, grace=timedelta(hours=grace_hours)
        )
        api_key.refresh_from_db()
        self.stdout.write(f"{issued.api_key.mode:<6}  {issued.secret}")
        self.stdout.write(f"{api_key.display} stops working at {api_key.expires_at}.")
