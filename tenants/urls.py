from django.urls import path

from tenants import views

urlpatterns = [
    path("auth/register", views.RegisterView.as_view(), name="register"),
    path("api-keys", views.ApiKeyListView.as_view(), name="api-key-list"),
    path("api-keys/rotate", views.ApiKeyRotateView.as_view(), name="api-key-rotate"),
    path("api-keys/<int:key_id>", views.ApiKeyDetailView.as_view(), name="api-key-detail"),
]
