"""A WSGI application that serves only the simulators, for a process of their own (load
tests): `manage.py run_mtn_simulator`. Same settings and database as the gateway."""

from __future__ import annotations

import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "gateway.settings")
# Read per request by Django's handler, so this process answers only the simulator's paths.
settings.ROOT_URLCONF = "providers.sandbox.standalone_urls"

application = get_wsgi_application()
