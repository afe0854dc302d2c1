"""One helper for every operator's settings, so that each operator is configured alike and
every environment variable it reads is known by name (`NAMES`, read by the documentation
test, which cannot see names built at run time).

- `per_mode(env, "AIRTEL", {"CLIENT_ID": {"test": …, "live": …}})` reads
  `AIRTEL_TEST_CLIENT_ID` and `AIRTEL_LIVE_CLIENT_ID` into `{"test": {"CLIENT_ID": …}, …}`.
- `tuning(env, "AIRTEL", {"CONNECT_TIMEOUT": 3.05})` reads `AIRTEL_CONNECT_TIMEOUT` (typed
  as its default) into `{"AIRTEL_CONNECT_TIMEOUT": …}`, for the settings module's globals.
"""

from __future__ import annotations

from typing import Any

MODES = ("test", "live")

# Every variable read through this module, in the order read.
NAMES: list[str] = []


def per_mode(
    env: Any, operator: str, fields: dict[str, dict[str, str]]
) -> dict[str, dict[str, str]]:
    config: dict[str, dict[str, str]] = {mode: {} for mode in MODES}
    for field, defaults in fields.items():
        for mode in MODES:
            name = f"{operator}_{mode.upper()}_{field}"
            NAMES.append(name)
            value = str(env.str(name, default=defaults.get(mode, "")))
            config[mode][field] = value.rstrip("/") if field.endswith("_URL") else value
    return config


def tuning(env: Any, operator: str, defaults: dict[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for field, default in defaults.items():
        name = f"{operator}_{field}"
        NAMES.append(name)
        reader = {bool: env.bool, int: env.int, float: env.float}.get(type(default), env.str)
        values[name] = reader(name, default=default)
    return values
