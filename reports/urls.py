from django.urls import path

from reports import views

urlpatterns = [
    path("reports/payments", views.PaymentReportView.as_view(), name="report-payments"),
    path("reports/settlements", views.SettlementReportView.as_view(), name="report-settlements"),
]
