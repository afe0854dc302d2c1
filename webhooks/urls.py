from django.urls import include, path

from webhooks import views

# One set of routes for every operator: a per-payment token in the URL (MTN, Zamtel), or one
# fixed URL per account whose body names the payment (Airtel).
urlpatterns = [
    path("webhooks/<slug:provider>/health", views.callback_health, name="callback-health"),
    path("webhooks/<slug:provider>/<str:token>", views.callback, name="callback"),
    path("webhooks/<slug:provider>", views.callback, name="callback-fixed"),
    path("", include("webhooks.outbound.urls")),  # outbound: merchant webhooks
]
