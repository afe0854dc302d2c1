"""What production refuses to start with, beyond a missing setting: a configuration under
which payments could not settle (settings.py raises ImproperlyConfigured with every problem).

- PUBLIC_BASE_URL left at the development default: operators would call back to loopback.
- A mode in use (OPERATOR_MODES) whose operator credentials are empty.
- A mode in use whose base URL points at this gateway's own /sandbox/<operator> while that
  simulator is disabled: every call would be a 404.
"""

from __future__ import annotations

from typing import Any

DEVELOPMENT_PUBLIC_BASE_URL = "http://127.0.0.1:8000"

# What each operator cannot be called without, per mode (names as in <OPERATOR>_<MODE>_<FIELD>).
CREDENTIALS: dict[str, tuple[str, ...]] = {
    "MTN": (
        "BASE_URL",
        "API_USER",
        "API_KEY",
        "COLLECTION_SUBSCRIPTION_KEY",
        "DISBURSEMENT_SUBSCRIPTION_KEY",
    ),
    "AIRTEL": ("BASE_URL", "CLIENT_ID", "CLIENT_SECRET"),
    "ZAMTEL": ("BASE_URL", "API_TOKEN"),
}
MODES = ("test", "live")


def modes_in_use(entries: list[str]) -> set[tuple[str, str]]:
    """OPERATOR_MODES entries, `live` (every operator) or `mtn:live` (one), as (MTN, live)."""
    used: set[tuple[str, str]] = set()
    for entry in entries:
        operator, _, mode = entry.strip().lower().rpartition(":")
        if mode not in MODES or (operator and operator.upper() not in CREDENTIALS):
            raise ValueError(
                f"OPERATOR_MODES entries are test, live or <operator>:<mode>, not {entry!r}"
            )
        operators = [operator.upper()] if operator else list(CREDENTIALS)
        used |= {(name, mode) for name in operators}
    return used


def problems(values: dict[str, Any]) -> list[str]:
    """Every reason the settings in `values` (the settings module's globals) cannot settle."""
    found: list[str] = []
    public = values["PUBLIC_BASE_URL"]
    if public == DEVELOPMENT_PUBLIC_BASE_URL:
        found.append(
            f"PUBLIC_BASE_URL is the development default ({public}): set it to the address "
            "operators reach this gateway at (their callbacks go there)"
        )
    for operator, mode in sorted(modes_in_use(values["OPERATOR_MODES"])):
        config = values[operator][mode]
        for field in CREDENTIALS[operator]:
            if not config.get(field):
                found.append(
                    f"{operator}_{mode.upper()}_{field} must be set: OPERATOR_MODES uses "
                    f"{operator.lower()} in {mode} mode"
                )
        simulator = f"{public}/sandbox/{operator.lower()}"
        base_url = config.get("BASE_URL", "")
        if base_url.startswith(simulator) and not values[f"{operator}_SIMULATOR_ENABLED"]:
            found.append(
                f"{operator}_{mode.upper()}_BASE_URL points at the built-in simulator "
                f"({base_url}) but {operator}_SIMULATOR_ENABLED is off: point it at the "
                "operator (or a simulator service), or enable the simulator"
            )
    return found
