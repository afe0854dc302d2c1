from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from gateway import errors
from providers import registry
from webhooks import selectors, services


@csrf_exempt
@require_http_methods(["PUT", "POST"])
def callback(request: HttpRequest, provider: str, token: str | None = None) -> HttpResponse:
    """200 for any well-formed callback (so the operator stops retrying), even an ignored one."""
    try:
        outcome = services.receive_callback(provider=provider, token=token, request=request)
    except errors.GatewayError as error:
        return errors.problem_response(error)
    return JsonResponse({"status": "received", "outcome": outcome})


@require_GET
def callback_health(request: HttpRequest, provider: str) -> HttpResponse:
    if registry.adapter_class(provider) is None:
        raise Http404
    last = selectors.last_callback_at(provider=provider)
    return JsonResponse(
        {"provider": provider, "last_callback_at": last.isoformat() if last else None}
    )
