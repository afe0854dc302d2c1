"""Payout batches in the back-office roles (gateway/migrations/0003_staff_roles.py): every
role sees them; finance (and admin) upload a CSV batch and cancel a batch's queued payouts."""

from typing import Any

from django.db import migrations

VIEW = ["payouts.view_payoutbatch", "payouts.view_payoutbatchitem"]
MONEY = ["payouts.upload_payout_batch", "payouts.cancel_payout_batch"]
ROLES = {
    "read_only": VIEW,
    "support": VIEW,
    "ops": VIEW,
    "finance": [*VIEW, *MONEY],
    "admin": [*VIEW, *MONEY],
}


def _permissions(apps: Any, labels: list[str]) -> list[Any]:
    from django.contrib.auth.management import create_permissions

    app_config = apps.get_app_config("payouts")
    app_config.models_module = True
    create_permissions(app_config, apps=apps, verbosity=0)
    app_config.models_module = None
    permission_model = apps.get_model("auth", "Permission")
    return [
        permission_model.objects.get(
            content_type__app_label="payouts", codename=label.split(".")[1]
        )
        for label in labels
    ]


def add_to_roles(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    for name, labels in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        group.permissions.add(*_permissions(apps, labels))


def remove_from_roles(apps: Any, schema_editor: Any) -> None:
    group_model = apps.get_model("auth", "Group")
    for name, labels in ROLES.items():
        for group in group_model.objects.filter(name=name):
            group.permissions.remove(*_permissions(apps, labels))


class Migration(migrations.Migration):
    dependencies = [
        ("payouts", "0001_initial"),
        ("gateway", "0003_staff_roles"),
    ]

    operations = [migrations.RunPython(add_to_roles, remove_from_roles)]
