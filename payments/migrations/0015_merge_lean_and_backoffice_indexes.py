from django.contrib.postgres.operations import RemoveIndexConcurrently
from django.db import migrations


class Migration(migrations.Migration):
    """Joins the two 0014s, and drops the two per-tenant indexes that the back-office's
    indexes now cover (a filter by status within a tenant walks payment_list_idx; a number's
    few payments are found by payment_msisdn_any_idx): fewer index entries per create."""

    atomic = False  # CONCURRENTLY: the table keeps taking writes

    dependencies = [
        ("payments", "0014_backoffice_indexes"),
        ("payments", "0014_lean_indexes"),
    ]

    operations = [
        RemoveIndexConcurrently(model_name="payment", name="payment_status_idx"),
        RemoveIndexConcurrently(model_name="payment", name="payment_msisdn_idx"),
    ]
