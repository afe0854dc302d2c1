from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from audit.services import SYSTEM
from tenants import services


class Command(BaseCommand):
    help = "Create a tenant with a test key (and a live key with --live); prints the keys once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("name")
        parser.add_argument("--live", action="store_true", help="also issue a live-mode key")

    def handle(self, *args: Any, name: str, live: bool, **options: Any) -> None:
        created = services.create_tenant(name=name, actor=SYSTEM, live=live)
        self.stdout.write(f"tenant  {created.tenant.id}  {created.tenant.slug}")
        for issued in created.keys:
            self.stdout.write(f"{issued.api_key.mode:<6}  {issued.secret}")
        self.stdout.write("The keys are shown only once; store them now.")
