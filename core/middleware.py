"""Pages require a login and a role; API paths answer 401/403 through DRF instead of redirecting.
A database outage answers 503 with Retry-After instead of a 500 page."""
from __future__ import annotations

import logging

from django.contrib.auth.middleware import LoginRequiredMiddleware
from django.http import HttpResponseBadRequest, HttpResponseForbidden, HttpResponseNotFound, JsonResponse
from django.utils.html import escape

from core.choices import Role
from core.selectors import user_has_role
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


# Every role may read the pages; finer checks (who may act) stay in the views.
PAGE_ROLES = tuple(Role.values)
# Signing in and out must work for anyone, whatever their roles.
OPEN_PAGES = frozenset({"login", "logout"})
# The admin checks staff status and model permissions itself.
OWN_CHECK_PREFIXES = ("/admin/",)


class PagesRoleRequiredMiddleware:
    """A signed-in person without a role gets 403 on every page, as the API answers them.

    Runs after PagesLoginRequiredMiddleware (anonymous people are sent to the login page there);
    API paths are left to DRF's permissions, views marked `login_not_required` (health) are open.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        path = request.path_info
        if path.startswith(API_PREFIXES) or path.startswith(OWN_CHECK_PREFIXES):
            return None
        if not getattr(view_func, "login_required", True):
            return None
        match = request.resolver_match
        if match is not None and match.url_name in OPEN_PAGES:
            return None
        if not request.user.is_authenticated or user_has_role(request.user, *PAGE_ROLES):
            return None
        return role_required_response(PAGE_ROLES)


def role_required_response(roles: tuple[str, ...]) -> HttpResponseForbidden:
    names = ", ".join(Role(role).label.lower() for role in roles)
    body = (
        "<!doctype html><title>403 Forbidden</title>"
        "<h1>403 Forbidden</h1>"
        f"<p>This page needs one of these roles: {escape(names)} (or superuser status). "
        "Ask an admin to give you one.</p>"
    )
    return HttpResponseForbidden(body)


class NulInFormMiddleware:
    """A NUL character in a query string or a page's form field is a 400 naming the field.

    PostgreSQL text cannot hold NUL: such a value reaching a filter or a save is a 500 otherwise.
    API bodies are left to DRF (its fields refuse NUL); their query strings are checked here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        api = request.path_info.startswith(API_PREFIXES)
        sources = [request.GET] if api or request.method != "POST" else [request.GET, request.POST]
        for data in sources:
            for name, values in data.lists():
                if "\x00" in name or any("\x00" in value for value in values):
                    message = f"The field {name.replace(chr(0), '')!r} contains a NUL character (\\u0000)."
                    if api:
                        return JsonResponse({"detail": message, "field": name.replace("\x00", "")}, status=400)
                    return HttpResponseBadRequest(message, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


MAX_ROW_ID = 2**63 - 1  # the largest id any of our databases stores (a bigint)


class OversizedIdMiddleware:
    """A URL whose integer argument no row can have (beyond a 64-bit id) is a 404 at once.

    Django's `<int:...>` converter takes any length of digits; a lookup with such a number fails in the
    database driver (SQLite: OverflowError) instead of finding nothing.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_view(self, request, view_func, view_args, view_kwargs):
        if any(isinstance(v, int) and not isinstance(v, bool) and abs(v) > MAX_ROW_ID
               for v in (*view_args, *view_kwargs.values())):
            message = "No such object (that id is out of range)."
            if request.path_info.startswith(API_PREFIXES):
                return JsonResponse({"detail": message, "code": "not_found"}, status=404)
            return HttpResponseNotFound(message, content_type="text/plain; charset=utf-8")
        return None
