from django.db import migrations, models


class Migration(migrations.Migration):
    """Joins the two 0003s; target_ref's index moves to Meta like the others (no LIKE index)."""

    dependencies = [
        ("audit", "0003_lean_indexes"),
        ("audit", "0003_target_ref"),
    ]

    operations = [
        migrations.AlterField(
            model_name="auditlog",
            name="target_ref",
            field=models.CharField(blank=True, max_length=64),
        ),
        migrations.AddIndex(
            model_name="auditlog",
            index=models.Index(fields=["target_ref"], name="audit_target_ref_idx"),
        ),
    ]
