"""The job queue in the back-office: every role sees it (what is waiting, running, failed);
`ops` and `admin` may retry, cancel and abort jobs (gateway.admin.JobAdmin, audited), which
gateway.staff_auth asks a second factor for."""

from typing import Any

from django.db import migrations

VIEW = "procrastinate.view_procrastinatejob"
OPERATE = "procrastinate.change_procrastinatejob"
GRANTS = {
    "read_only": [VIEW],
    "support": [VIEW],
    "ops": [VIEW, OPERATE],
    "finance": [VIEW],
    "admin": [VIEW, OPERATE],
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

    app_config = apps.get_app_config("procrastinate")
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
        ("gateway", "0005_merge_20261201_1704"),
        ("procrastinate", "0041_post_retry_failed_job"),
    ]

    operations = [migrations.RunPython(grant, revoke)]
