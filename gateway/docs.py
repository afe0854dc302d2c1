"""/api/schema/ and /api/docs/ behind the API_DOCS setting: public, staff only, or off.

Swagger UI runs under the pages' Content-Security-Policy: its start-up script is served as a
file (drf-spectacular's split view, `?script`), and its few page styles come from a static
file instead of an inline <style>.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.contrib.auth.views import redirect_to_login
from django.http import Http404, HttpRequest, HttpResponseBase
from django.urls import reverse
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

View = Callable[..., HttpResponseBase]


def gated(view: View) -> View:
    def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        mode: str = settings.API_DOCS
        if mode == "off":
            raise Http404("the API documentation is not served here")
        user = getattr(request, "user", None)
        if mode == "staff" and not (user is not None and user.is_active and user.is_staff):
            return redirect_to_login(request.get_full_path(), login_url=reverse("admin:login"))
        return view(request, *args, **kwargs)

    return guarded


schema_view = gated(SpectacularAPIView.as_view())
docs_view = gated(
    SpectacularSwaggerSplitView.as_view(url_name="schema", template_name="gateway/swagger_ui.html")
)
