from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from gateway import docs, health, metrics, staff_views, views

urlpatterns = [
    path("health", health.HealthView.as_view(), name="health"),
    path("health/live", health.LiveView.as_view(), name="health-live"),
    path("health/ready", health.ReadyView.as_view(), name="health-ready"),
    path("metrics", metrics.metrics_view, name="metrics"),
    path("api/schema/", docs.schema_view, name="schema"),
    path("api/docs/", docs.docs_view, name="docs"),
    path("api/v1/", include("tenants.urls")),
    path("api/v1/", include("providers.urls")),
    path("api/v1/", include("payments.urls")),
    path("api/v1/", include("payouts.urls")),
    path("api/v1/", include("webhooks.urls")),
    path("api/v1/", include("reports.urls")),
    path("errors/", views.ErrorCatalogueView.as_view(), name="error-list"),
    path("errors/failures/<slug:code>", views.FailureCodeView.as_view(), name="failure-detail"),
    path("errors/<slug:code>", views.ErrorCatalogueView.as_view(), name="error-detail"),
    # The back-office's second factor (gateway.staff_auth), before the admin's own URLs.
    path("admin/second-factor/", staff_views.verify, name="staff-otp-verify"),
    path("admin/second-factor/enrol/", staff_views.enrol, name="staff-otp-enrol"),
    path("admin/", admin.site.urls),
]

# Every operator's simulator, mounted alike: /sandbox/<operator>/ when enabled.
for _operator in ("mtn", "airtel", "zamtel"):
    if getattr(settings, f"{_operator.upper()}_SIMULATOR_ENABLED"):
        urlpatterns.append(
            path(f"sandbox/{_operator}/", include(f"providers.sandbox.{_operator}.urls"))
        )

handler400 = "gateway.errors.handler400"
handler403 = "gateway.errors.handler403"
handler404 = "gateway.errors.handler404"
handler500 = "gateway.errors.handler500"
