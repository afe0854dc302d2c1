"""The audit trail names targets by their public ids (pay_…, sk_test_…, a tenant's id)."""

from django.db import migrations, models

# Rows written before the column existed get their target's public id once, here; the table
# is append-only (0002), so its trigger is held for this one statement per kind of target.
BACKFILL = """
ALTER TABLE audit_auditlog DISABLE TRIGGER audit_log_append_only;
UPDATE audit_auditlog a SET target_ref = p.public_id FROM payments_payment p
 WHERE a.target_type = 'payments.payment' AND a.target_id = p.id::text;
UPDATE audit_auditlog a SET target_ref = 'sk_' || k.mode || '_' || k.prefix
  FROM tenants_apikey k WHERE a.target_type = 'tenants.apikey' AND a.target_id = k.id::text;
UPDATE audit_auditlog SET target_ref = target_id WHERE target_type = 'tenants.tenant';
UPDATE audit_auditlog a SET target_ref = e.public_id FROM webhooks_webhookendpoint e
 WHERE a.target_type = 'webhooks.webhookendpoint' AND a.target_id = e.id::text;
ALTER TABLE audit_auditlog ENABLE TRIGGER audit_log_append_only;
"""


class Migration(migrations.Migration):
    dependencies = [
        ("audit", "0002_append_only"),
        ("payments", "0001_initial"),
        ("webhooks", "0003_outbound_webhooks"),
    ]

    operations = [
        migrations.AddField(
            model_name="auditlog",
            name="target_ref",
            field=models.CharField(blank=True, db_index=True, max_length=64),
        ),
        migrations.RunSQL(BACKFILL, reverse_sql=migrations.RunSQL.noop),
    ]
