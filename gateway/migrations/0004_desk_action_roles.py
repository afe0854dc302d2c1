"""The payment page's actions (settling a stuck payment by hand, refunding from the
back-office) for `ops` and `admin`; for `admin`, creating tenants from the back-office and
resetting a staff member's second factor (a lost phone). gateway.staff_auth asks all of them
for a second factor."""

from typing import Any

from django.db import migrations

GRANTS = {
    "ops": ["payments.resolve_payment", "payments.refund_payment"],
    "admin": [
        "payments.resolve_payment",
        "payments.refund_payment",
        "tenants.add_tenant",
        "otp_totp.view_totpdevice",
        "otp_totp.delete_totpdevice",
    ],
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

    for app_label in ("payments", "tenants", "otp_totp"):
        app_config = apps.get_app_config(app_label)
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.add(*_permissions(apps, GRANTS[group.name]))


def revoke(apps: Any, schema_editor: Any) -> None:
    for group in apps.get_model("auth", "Group").objects.filter(name__in=GRANTS):
        group.permissions.remove(*_permissions(apps, GRANTS[group.name]))


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0003_staff_roles"),
        ("payments", "0014_desk_action_permissions"),
        ("otp_totp", "0003_add_timestamps"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
