"""Pages require a login; API paths answer 401/403 through DRF instead of redirecting."""
from __future__ import annotations

from django.contrib.auth.middleware import LoginRequiredMiddleware

# Machine-facing paths: DRF authenticates them (token or session) and answers 401 as JSON.
API_PREFIXES = ("/api/", "/otlp/", "/static/")


class PagesLoginRequiredMiddleware(LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(API_PREFIXES):
            return None
        return super().process_view(request, view_func, view_args, view_kwargs)
