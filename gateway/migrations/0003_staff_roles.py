"""The back-office roles as groups with their permissions. A user's role is a group; a
superuser needs none. Change a role in a new migration, so every environment follows."""

from typing import Any

from django.db import migrations

# Seeing the back-office: every admin page, without secrets (a callback token needs
# payments.view_payment_secrets; key secrets and webhook secrets are never shown).
VIEW = [
    "audit.view_auditlog",
    "payments.view_payment",
    "payments.view_account",
    "payments.view_entry",
    "payments.view_feeschedule",
    "providers.view_operatorconfig",
    "providers.view_availabilityoverride",
    "tenants.view_tenant",
    "tenants.view_apikey",
    "webhooks.view_inboundcallback",
    "webhooks.view_webhookendpoint",
    "webhooks.view_event",
    "webhooks.view_delivery",
    "webhooks.view_deaddelivery",
]
OPS = [
    "payments.recheck_payment",
    "payments.resolve_review",
    "payments.view_payment_secrets",
    "providers.add_availabilityoverride",
    "providers.change_availabilityoverride",
    "providers.add_operatorconfig",
    "providers.change_operatorconfig",
    "providers.delete_operatorconfig",
    "webhooks.change_webhookendpoint",
    "webhooks.resend_delivery",
]
FINANCE = [
    "payments.adjust_balance",
    "payments.add_feeschedule",
    "payments.change_feeschedule",
    "payments.delete_feeschedule",
]
KEYS_AND_TENANTS = [
    "tenants.activate_tenant",
    "tenants.manage_api_keys",
    "tenants.issue_live_key",
    "tenants.view_staffmembership",
    "tenants.add_staffmembership",
    "tenants.change_staffmembership",
    "tenants.delete_staffmembership",
    "auth.view_user",
    "auth.add_user",
    "auth.change_user",
    "auth.view_group",
]
ROLES = {
    "read_only": VIEW,
    # Helps merchants: sees what happened and resends their webhooks; no money, no secrets.
    "support": [*VIEW, "webhooks.resend_delivery"],
    "ops": [*VIEW, *OPS],
    "finance": [*VIEW, *FINANCE],
    "admin": [*VIEW, *OPS, *FINANCE, *KEYS_AND_TENANTS],
}


def create_roles(apps: Any, schema_editor: Any) -> None:
    from django.contrib.auth.management import create_permissions

    # Permissions are otherwise created after the whole migrate run (post_migrate): create
    # them now, from the migration state, so the groups can point at them.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    group_model = apps.get_model("auth", "Group")
    permission_model = apps.get_model("auth", "Permission")
    for name, permissions in ROLES.items():
        group, _ = group_model.objects.get_or_create(name=name)
        wanted = []
        for label in permissions:
            app_label, codename = label.split(".")
            wanted.append(
                permission_model.objects.get(content_type__app_label=app_label, codename=codename)
            )
        group.permissions.set(wanted)


def delete_roles(apps: Any, schema_editor: Any) -> None:
    apps.get_model("auth", "Group").objects.filter(name__in=ROLES).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("gateway", "0002_rate_counter"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("audit", "0002_append_only"),
        ("payments", "0013_staff_permissions"),
        ("providers", "0001_initial"),
        ("tenants", "0002_staff_membership_and_permissions"),
        ("webhooks", "0005_resend_permission"),
    ]

    operations = [migrations.RunPython(create_roles, delete_roles)]
