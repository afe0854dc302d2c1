from django.urls import include, path

from webhooks import views

urlpatterns = [
    path("webhooks/mtn/health", views.mtn_health, name="mtn-callback-health"),
    path("webhooks/mtn/<str:token>", views.mtn_callback, name="mtn-callback"),
    path("", include("webhooks.outbound.urls")),  # outbound: merchant webhooks
]
