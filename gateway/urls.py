from django.conf import settings
from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from gateway import health, views

urlpatterns = [
    path("health", health.HealthView.as_view(), name="health"),
    path("health/live", health.LiveView.as_view(), name="health-live"),
    path("health/ready", health.ReadyView.as_view(), name="health-ready"),
    path("", include("django_prometheus.urls")),  # /metrics
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/", include("tenants.urls")),
    path("api/v1/", include("providers.urls")),
    path("api/v1/", include("payments.urls")),
    path("api/v1/", include("webhooks.urls")),
    path("errors/", views.ErrorCatalogueView.as_view(), name="error-list"),
    path("errors/<slug:code>", views.ErrorCatalogueView.as_view(), name="error-detail"),
    path("admin/", admin.site.urls),
]

if settings.MTN_SIMULATOR_ENABLED:
    urlpatterns.append(path("sandbox/mtn/", include("providers.sandbox.mtn.urls")))

handler400 = "gateway.errors.handler400"
handler403 = "gateway.errors.handler403"
handler404 = "gateway.errors.handler404"
handler500 = "gateway.errors.handler500"
