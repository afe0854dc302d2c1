"""The payment page's actions: settling a stuck payment by hand and refunding from the
back-office, for the `ops` and `admin` roles (gateway.staff_auth asks them for a second
factor)."""

from typing import Any

from django.db import migrations

DESK_ACTIONS = ["resolve_payment", "refund_payment"]
ROLES = ["ops", "admin"]


def grant(apps: Any, schema_editor: Any) -> None:
    from django.contrib.auth.management import create_permissions

    payments = apps.get_app_config("payments")
    payments.models_module = True
    create_permissions(payments, apps=apps, verbosity=0)
    payments.models_module = None
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="payments", codename__in=DESK_ACTIONS
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.add(*permissions)


def revoke(apps: Any, schema_editor: Any) -> None:
    permissions = apps.get_model("auth", "Permission").objects.filter(
        content_type__app_label="payments", codename__in=DESK_ACTIONS
    )
    for group in apps.get_model("auth", "Group").objects.filter(name__in=ROLES):
        group.permissions.remove(*permissions)


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0003_staff_roles"),
        ("payments", "0014_desk_action_permissions"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
