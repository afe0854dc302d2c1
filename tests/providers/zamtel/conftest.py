from __future__ import annotations

import pytest

TOKEN, SECRET = "zamtel-static-token", "zamtel-callback-secret"


@pytest.fixture(autouse=True)
def zamtel_settings(settings):
    settings.ZAMTEL_SIMULATOR_TOKENS = [TOKEN]
    settings.ZAMTEL_SIMULATOR_CALLBACK_SECRET = SECRET
    settings.ZAMTEL_SIMULATOR_CALLBACK_DELAY_SECONDS = 0.3
    settings.ZAMTEL_SIMULATOR_SLOW_SECONDS = 2.5
    settings.ZAMTEL_READ_TIMEOUT_PAYMENT = 1.0
    settings.ZAMTEL_RETRY_INITIAL_SECONDS = 0.05
    settings.ZAMTEL_RETRY_MAX_SECONDS = 0.1
    return settings


def config(base_url: str, **overrides: str) -> dict[str, str]:
    return {
        "BASE_URL": base_url,
        "API_TOKEN": TOKEN,
        "CALLBACK_SECRET": SECRET,
        "PROVIDER_CODE": "ZAMTEL_ZMB",
        "CURRENCY": "ZMW",
        **overrides,
    }
