"""API-key authentication for DRF: `Authorization: Bearer sk_…` or `X-API-Key: sk_…`."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest
from rest_framework.authentication import BaseAuthentication
from rest_framework.request import Request

from audit.models import ActorKind
from audit.services import Actor
from gateway import errors
from tenants import selectors, services
from tenants.models import ApiKey, Mode, Tenant


@dataclass(frozen=True)
class ApiCaller:
    """What `request.user` is on the API: a tenant acting in one mode through one key."""

    api_key: ApiKey
    is_authenticated: bool = True

    @property
    def tenant(self) -> Tenant:
        return self.api_key.tenant

    @property
    def mode(self) -> Mode:
        return Mode(self.api_key.mode)

    @property
    def actor(self) -> Actor:
        return Actor(kind=ActorKind.API_KEY, id=str(self.api_key.pk), label=self.api_key.display)


def presented_key(request: Request | HttpRequest) -> str | None:
    authorization = request.headers.get("Authorization", "")
    scheme, _, credentials = authorization.partition(" ")
    if scheme.lower() == "bearer" and credentials.strip():
        return credentials.strip()
    return request.headers.get("X-API-Key", "").strip() or None


_RESOLVED = "_api_caller"  # where a request keeps its caller once resolved


def resolve_caller(request: HttpRequest) -> ApiCaller | None:
    """The request's caller, resolved once: middleware and DRF views share the result.

    None when no key is presented; raises the precise 401/403 error for a bad one.
    """
    if hasattr(request, _RESOLVED):
        cached: ApiCaller | errors.GatewayError | None = getattr(request, _RESOLVED)
        if isinstance(cached, errors.GatewayError):
            raise cached
        return cached
    secret = presented_key(request)
    caller = None
    if secret is not None:
        try:
            api_key = selectors.get_api_key_for_secret(secret=secret)
            claimed_tenant = request.headers.get("X-Tenant-ID")
            if claimed_tenant is not None and claimed_tenant.strip() != str(api_key.tenant_id):
                raise errors.TenantMismatch()
        except errors.GatewayError as error:
            setattr(request, _RESOLVED, error)  # the rate limit and the view see the same answer
            raise
        services.record_api_key_use(api_key=api_key)
        caller = ApiCaller(api_key=api_key)
    setattr(request, _RESOLVED, caller)
    return caller


class ApiKeyAuthentication(BaseAuthentication):
    def authenticate(self, request: Request) -> tuple[ApiCaller, ApiKey] | None:
        caller = resolve_caller(request._request)
        if caller is None:
            return None  # DRF then answers 401 authentication_required where a key is needed
        return caller, caller.api_key

    def authenticate_header(self, request: Request) -> str:
        return 'Bearer realm="api"'


def caller_of(request: Request) -> ApiCaller:
    """The authenticated caller of an API view (whose permission class guarantees one)."""
    caller = request.user
    if not isinstance(caller, ApiCaller):
        raise errors.AuthenticationRequired()
    return caller
