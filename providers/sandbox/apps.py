from django.apps import AppConfig


class SandboxConfig(AppConfig):
    """Faithful simulators of the operators' HTTP APIs; their tables are apart (sandbox_*)."""

    name = "providers.sandbox"
    label = "sandbox"
    verbose_name = "Operator simulators"
