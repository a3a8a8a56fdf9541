"""Pages require a login; API paths answer 401/403 through DRF instead of redirecting. A database
outage answers 503 with Retry-After instead of a 500 page."""
from __future__ import annotations

import logging

from django.contrib.auth.middleware import LoginRequiredMiddleware

from core.unavailable import database_unavailable_response, is_database_unavailable

logger = logging.getLogger(__name__)

# Machine-facing paths: DRF authenticates them (token or session) and answers 401 as JSON.
API_PREFIXES = ("/api/", "/otlp/", "/static/")


class PagesLoginRequiredMiddleware(LoginRequiredMiddleware):
    def process_view(self, request, view_func, view_args, view_kwargs):
        if request.path_info.startswith(API_PREFIXES):
            return None
        try:
            return super().process_view(request, view_func, view_args, view_kwargs)
        except Exception as exc:
            # The session and user are read here first: an outage must not become a 500 page.
            if is_database_unavailable(exc):
                logger.warning("database unavailable: %s", exc)
                return database_unavailable_response(request)
            raise


class DatabaseUnavailableMiddleware:
    """Views (DRF's are answered by core.api.handlers) that hit a database outage answer 503."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if is_database_unavailable(exception):
            logger.warning("database unavailable: %s", exception)
            return database_unavailable_response(request)
        return None
