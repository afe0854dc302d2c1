"""One adapter per (operator, mode) per process: sessions, tokens and breakers are shared."""

from __future__ import annotations

import threading

from providers import breakers, routing
from providers.airtel.adapter import AirtelAdapter
from providers.base import Capabilities, ConfigurationError, Provider, ProviderAdapter
from providers.mtn.adapter import MtnAdapter
from providers.zamtel.adapter import ZamtelAdapter
from tenants.models import Mode

_ADAPTERS: dict[tuple[Provider, Mode], ProviderAdapter] = {}
_LOCK = threading.Lock()
_FACTORIES: dict[Provider, type[ProviderAdapter]] = {
    Provider.MTN: MtnAdapter,
    Provider.AIRTEL: AirtelAdapter,
    Provider.ZAMTEL: ZamtelAdapter,
}


def adapter_class(provider: Provider | str) -> type[ProviderAdapter] | None:
    """The adapter class of an operator, or None (unknown or not built)."""
    try:
        return _FACTORIES.get(Provider(provider))
    except ValueError:
        return None


def capabilities(provider: Provider | str) -> Capabilities:
    """What the operator's adapter declares it can do (the operator must be supported)."""
    require_adapter(provider)
    return _FACTORIES[Provider(provider)].capabilities


def supported() -> list[Provider]:
    return list(_FACTORIES)


def get_adapter(provider: Provider | str, mode: Mode | str) -> ProviderAdapter:
    key = (Provider(provider), Mode(mode))
    with _LOCK:
        adapter = _ADAPTERS.get(key)
        if adapter is None:
            factory = _FACTORIES.get(key[0])
            if factory is None:
                raise ConfigurationError(f"No adapter for {key[0].label} yet")
            adapter = _ADAPTERS[key] = factory(mode=key[1])
        return adapter


def require_adapter(provider: Provider | str) -> None:
    """Refuse, before anything is stored, a payment no adapter could send."""
    if Provider(provider) not in _FACTORIES:
        raise routing.UnsupportedOperator(f"{Provider(provider).label} is not available yet.")


def breaker_states() -> dict[str, dict[str, str]]:
    """For /health/ready: each operator's breaker per mode, as last changed by any process."""
    return {
        provider.value: {mode.value: breakers.last_known(provider, mode) for mode in Mode}
        for provider in _FACTORIES
    }


def reset() -> None:
    """Forget every adapter (tests, or after credentials change)."""
    with _LOCK:
        _ADAPTERS.clear()
