"""URLs of a process that serves only the simulators (load tests): the same paths as the
gateway's, so a client's base URL is http://HOST:PORT/sandbox/mtn either way."""

from django.urls import include, path

urlpatterns = [
    path(f"sandbox/{operator}/", include(f"providers.sandbox.{operator}.urls"))
    for operator in ("mtn", "airtel", "zamtel")
]
