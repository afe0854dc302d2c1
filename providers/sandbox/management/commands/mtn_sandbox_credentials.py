from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from providers.sandbox.mtn import selectors


class Command(BaseCommand):
    help = (
        "Print the MTN simulator's credentials for any MTN MoMo client: the base URL, each "
        "product's subscription key, the API users that need no provisioning, and the target "
        "environments. The same are in the admin, on the MTN API users page."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--base-url", default=settings.PUBLIC_BASE_URL)

    def handle(self, *args: Any, base_url: str, **options: Any) -> None:
        if not settings.MTN_SIMULATOR_ENABLED:
            # Not an error: `make run` calls this, and may run against MTN's real sandbox.
            self.stdout.write("The MTN simulator is off (MTN_SIMULATOR_ENABLED=false).")
            return
        credentials = selectors.get_credentials()
        lines = [
            f"\nMTN simulator: {base_url.rstrip('/')}/sandbox/mtn  (for MTN's base URL)",
            "  Subscription keys (Ocp-Apim-Subscription-Key), one per product:",
        ]
        for product, keys in credentials.subscription_keys.items():
            lines.extend(f"    {product:<13} {key}" for key in keys)
        lines.append("  API users (Basic auth on /{product}/token/), no provisioning needed:")
        lines.extend(f"    {user_id}  API key {key}" for user_id, key in credentials.api_users)
        lines.append(
            f"  X-Target-Environment: {' or '.join(credentials.target_environments)}"
            f"  (sandbox: EUR, mtnzambia: ZMW); callback host: {credentials.callback_host}"
        )
        lines.append("  Or provision your own with POST /v1_0/apiuser and any product's key.\n")
        self.stdout.write("\n".join(lines))
