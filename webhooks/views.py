from __future__ import annotations

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from gateway import errors
from webhooks import selectors, services


@csrf_exempt
@require_http_methods(["PUT", "POST"])
def mtn_callback(request: HttpRequest, token: str) -> HttpResponse:
    """200 for any well-formed callback (so MTN stops retrying), even an ignored one."""
    try:
        outcome = services.receive_callback(provider="mtn", token=token, request=request)
    except errors.GatewayError as error:
        return errors.problem_response(error)
    return JsonResponse({"status": "received", "outcome": outcome})


@require_GET
def mtn_health(request: HttpRequest) -> HttpResponse:
    last = selectors.last_callback_at(provider="mtn")
    return JsonResponse({"provider": "mtn", "last_callback_at": last.isoformat() if last else None})
