from django.urls import path, register_converter

from payouts import views


class BatchIdConverter:
    """`pob_` and 24 base62 characters (models.new_public_id): anything else is a plain 404."""

    regex = "pob_[A-Za-z0-9]{24}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value


register_converter(BatchIdConverter, "batch_id")

urlpatterns = [
    path("payout-batches", views.PayoutBatchCreateView.as_view(), name="payout-batch-list"),
    path(
        "payout-batches/<batch_id:public_id>",
        views.PayoutBatchDetailView.as_view(),
        name="payout-batch-detail",
    ),
    path(
        "payout-batches/<batch_id:public_id>/cancel",
        views.PayoutBatchCancelView.as_view(),
        name="payout-batch-cancel",
    ),
]
