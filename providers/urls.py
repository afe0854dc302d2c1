from django.urls import path

from providers import views

urlpatterns = [
    path("providers/predict", views.PredictView.as_view(), name="provider-predict"),
]
