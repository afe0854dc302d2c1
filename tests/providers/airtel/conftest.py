from __future__ import annotations

import pytest

CLIENT_ID, CLIENT_SECRET, PIN, HASH_KEY = "airtel-client", "airtel-secret", "4321", "hash-key"


@pytest.fixture(autouse=True)
def airtel_settings(settings):
    settings.AIRTEL_SIMULATOR_CLIENTS = [f"{CLIENT_ID}:{CLIENT_SECRET}"]
    settings.AIRTEL_SIMULATOR_PIN = PIN
    settings.AIRTEL_SIMULATOR_CALLBACK_HASH_KEY = HASH_KEY
    settings.AIRTEL_SIMULATOR_CALLBACK_DELAY_SECONDS = 0.3
    settings.AIRTEL_SIMULATOR_SLOW_SECONDS = 2.5
    settings.AIRTEL_SIMULATOR_TOKEN_TTL_SECONDS = 180
    settings.AIRTEL_READ_TIMEOUT_PAYMENT = 1.0
    settings.AIRTEL_RETRY_INITIAL_SECONDS = 0.05
    settings.AIRTEL_RETRY_MAX_SECONDS = 0.1
    return settings


def config(base_url: str, **overrides: str) -> dict[str, str]:
    return {
        "BASE_URL": base_url,
        "CLIENT_ID": CLIENT_ID,
        "CLIENT_SECRET": CLIENT_SECRET,
        "COUNTRY": "ZM",
        "CURRENCY": "ZMW",
        "API_VERSION": "v2",
        "DISBURSEMENT_PIN": PIN,
        "CALLBACK_HASH_KEY": HASH_KEY,
        "PUBLIC_KEY": "",
        "ENQUIRY_DELAY_SECONDS": "0",
        **overrides,
    }
