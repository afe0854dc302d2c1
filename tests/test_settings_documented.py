"""Every setting the code reads is documented in .env.example and the README.

Names written out are found in the source; operators' names, which one helper builds
(gateway/operator_settings.py), come from the list that helper keeps of every name it read.
"""

from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

from gateway import operator_settings

ROOT = Path(__file__).resolve().parents[1]
READERS = [ROOT / "gateway" / "settings.py", ROOT / "gateway" / "gunicorn.conf.py"]
SETTING_READ = re.compile(r"""(?:env\.\w+|environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def _settings_read() -> set[str]:
    settings.INSTALLED_APPS  # noqa: B018  # the settings module has run: NAMES is complete
    written = {name for path in READERS for name in SETTING_READ.findall(path.read_text())}
    return written | set(operator_settings.NAMES)


def test_settings_are_found() -> None:
    assert {
        "SECRET_KEY",
        "DATABASE_URL",
        "RATE_LIMIT_READ",
        "RATE_LIMIT_WRITE",
        "DB_STATEMENT_TIMEOUT_MS",
    } <= _settings_read()


def test_every_operators_per_mode_and_tuning_variables_are_seen() -> None:
    """The names built by the helper, for every operator with an adapter, both modes."""
    from providers import registry

    names = _settings_read()
    for provider in registry.supported():
        prefix = provider.value.upper()
        for mode in ("TEST", "LIVE"):
            assert f"{prefix}_{mode}_BASE_URL" in names
        assert {f"{prefix}_CONNECT_TIMEOUT", f"{prefix}_BREAKER_FAIL_MAX"} <= names


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", example, flags=re.M))

    assert _settings_read() - documented == set()


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()

    assert {name for name in _settings_read() if f"`{name}`" not in readme} == set()
