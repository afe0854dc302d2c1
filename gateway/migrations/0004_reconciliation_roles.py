"""Reconciliation's permissions for the roles: finance imports statements, resolves what
differs, marks payments reconciled and exports the daily summary; admin has all of finance's.
Ops and support see the runs (view) and nothing more."""

from typing import Any

from django.db import migrations

FINANCE = [
    "reconciliation.import_statement",
    "reconciliation.resolve_item",
    "reconciliation.export_summary",
    "reconciliation.mark_reconciled",
]
VIEW = [
    "reconciliation.view_reconciliationrun",
    "reconciliation.view_reconciliationitem",
    "reconciliation.view_paymentreconciliation",
]
ROLES = {
    "read_only": VIEW,
    "support": VIEW,
    "ops": VIEW,
    "finance": [*VIEW, *FINANCE],
    "admin": [*VIEW, *FINANCE],
}


def _permissions(apps: Any, labels: list[str]) -> list[Any]:
    permission_model = apps.get_model("auth", "Permission")
    found = []
    for label in labels:
        app_label, codename = label.split(".")
        found.append(
            permission_model.objects.get(content_type__app_label=app_label, codename=codename)
        )
    return found


def grant(apps: Any, schema_editor: Any) -> None:
    from django.contrib.auth.management import create_permissions

    # As in 0003: permissions exist only after the whole migrate run otherwise.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    for name, labels in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(*_permissions(apps, labels))


def revoke(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    for name, labels in ROLES.items():
        for group in group_model.objects.filter(name=name):
            group.permissions.remove(*_permissions(apps, labels))


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0003_staff_roles"),
        ("reconciliation", "0001_initial"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
