from django.urls import path

from payments import views

urlpatterns = [
    path("payments", views.PaymentListCreateView.as_view(), name="payment-list"),
    path("payments/<str:public_id>", views.PaymentDetailView.as_view(), name="payment-detail"),
    path(
        "payments/<str:public_id>/refund", views.PaymentRefundView.as_view(), name="payment-refund"
    ),
    path("accounts/<str:msisdn>", views.AccountView.as_view(), name="account"),
]
