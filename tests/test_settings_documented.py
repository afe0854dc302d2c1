"""Every setting the code reads is documented in .env.example and the README."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
READERS = [ROOT / "gateway" / "settings.py", ROOT / "gateway" / "gunicorn.conf.py"]
SETTING_READ = re.compile(r"""(?:env\.\w+|environ\.get)\(\s*["']([A-Z][A-Z0-9_]+)["']""")


def _settings_read() -> set[str]:
    return {name for path in READERS for name in SETTING_READ.findall(path.read_text())}


def test_settings_are_found() -> None:
    assert {
        "SECRET_KEY",
        "DATABASE_URL",
        "RATE_LIMIT_READ",
        "RATE_LIMIT_WRITE",
        "DB_STATEMENT_TIMEOUT_MS",
    } <= _settings_read()


def test_every_setting_is_in_env_example() -> None:
    example = (ROOT / ".env.example").read_text()
    documented = set(re.findall(r"^(?:# )?([A-Z][A-Z0-9_]+)=", example, flags=re.M))

    assert _settings_read() - documented == set()


def test_every_setting_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()

    assert {name for name in _settings_read() if f"`{name}`" not in readme} == set()
