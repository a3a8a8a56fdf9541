"""Role checks for the API: who may read, who may act, and which calls agents may make."""
from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Q
from rest_framework.exceptions import PermissionDenied
from rest_framework.permissions import SAFE_METHODS, BasePermission

from .authentication import INTEGRATION_CACHE_SECONDS, IntegrationPrincipal
from .choices import Role
from .models import Integration, Service
from .selectors import user_roles

READ_ROLES = frozenset({Role.OPERATOR, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN})
ACT_ROLES = frozenset({Role.OPERATOR, Role.ADMIN})


class RolePermission(BasePermission):
    """People only. Safe methods need one of the view's `read_roles`, others one of `write_roles`.

    Defaults: operators and admins act; managers and executives read.
    """

    message = "Your role does not allow this."

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not user or not user.is_authenticated or isinstance(user, IntegrationPrincipal):
            return False
        roles = user_roles(user)
        if request.method in SAFE_METHODS:
            allowed = getattr(view, "read_roles", READ_ROLES)
        else:
            allowed = getattr(view, "write_roles", ACT_ROLES)
        return bool(roles & set(allowed))


class IsIntegration(BasePermission):
    """Requests made with an integration token; a view may narrow `integration_kinds`."""

    message = "This endpoint takes an integration token."

    def has_permission(self, request, view) -> bool:
        if not isinstance(request.user, IntegrationPrincipal):
            return False
        kinds = getattr(view, "integration_kinds", None)
        if kinds is None or request.auth.kind in kinds:
            return True
        # Named, so whoever configured the agent sees which token to create instead.
        *others, last = sorted(kinds)
        named = f"{', '.join(others)} or {last}" if others else last
        self.message = f"This endpoint takes {named} integration tokens, not a {request.auth.kind} one."
        return False


class IsIntegrationOrOperator(BasePermission):
    """Agents with a token, or people who may act (for endpoints both use, e.g. signals)."""

    message = RolePermission.message

    def has_permission(self, request, view) -> bool:
        if isinstance(request.user, IntegrationPrincipal):
            check = IsIntegration()
            allowed = check.has_permission(request, view)
            self.message = check.message
            return allowed
        return RolePermission().has_permission(request, view)


# --- which services an integration may write to -----------------------------------------------


@dataclass(frozen=True, slots=True)
class ServiceScope:
    """The services an integration files under: its default one plus the admin's allow-list."""

    default: str | None  # the integration's own service (None: it must name one of `names`)
    ids: dict[str, int]  # name -> id of every service it may write to, the default included

    @property
    def names(self) -> frozenset[str]:
        return frozenset(self.ids)


class ServiceNotAllowed(PermissionDenied):
    """403: the request names a service its integration token may not write to."""

    default_code = "service_not_allowed"

    def __init__(self, *, integration: Integration, service: str, scope: ServiceScope) -> None:
        allowed = ", ".join(repr(name) for name in sorted(scope.ids)) or "none"
        super().__init__(
            f"Integration {integration.name!r} may not write to service {service!r}; it may write to: "
            f"{allowed}. An admin can add the service to the integration's extra services."
        )
        self.service = service


# Each process keeps an integration's scope (with the monotonic time it was read) as long as it
# keeps the integration itself (core.authentication): an admin's change reaches every process
# within that bound. Keyed by token hash, which no other integration has (ids are reused after
# a rollback).
SERVICE_SCOPE_SECONDS = INTEGRATION_CACHE_SECONDS
_scopes: dict[str, tuple[float, ServiceScope]] = {}
_scopes_lock = threading.Lock()
SCOPES_KEPT = 1024  # as INTEGRATION_CACHE_MAX


def integration_service_scope(
    *, integration: Integration, max_age: float = SERVICE_SCOPE_SECONDS
) -> ServiceScope:
    """The services `integration` may file under: one query, then kept up to `max_age` seconds."""
    now = time.monotonic()
    cached = _scopes.get(integration.token_hash)
    if cached is not None and now - cached[0] < max_age:
        return cached[1]
    rows = (
        Service.objects.filter(Q(pk=integration.service_id) | Q(extra_integrations=integration.pk))
        .values_list("pk", "name").distinct()
    )
    ids = {name: pk for pk, name in rows}
    default = next((name for name, pk in ids.items() if pk == integration.service_id), None)
    scope = ServiceScope(default=default, ids=ids)
    with _scopes_lock:
        if len(_scopes) >= SCOPES_KEPT:
            _scopes.clear()
        _scopes[integration.token_hash] = (now, scope)
    return scope


def integration_scope_forget(*, integration: Integration | None = None) -> None:
    """Drop one integration's cached scope (after an admin edit), or all of them."""
    with _scopes_lock:
        if integration is None:
            _scopes.clear()
        else:
            _scopes.pop(integration.token_hash, None)


def integration_check_services(
    *, integration: Integration, services: Iterable[str], max_age: float = 0.0
) -> ServiceScope:
    """Raise ServiceNotAllowed (403) for the first named service outside the integration's scope.

    A name that is no service at all is left to the caller, whose 400 names it as unknown. By
    default the scope is read afresh: the native endpoints look their services up anyway, so
    one more indexed query makes an admin's change count from the next request.
    """
    scope = integration_service_scope(integration=integration, max_age=max_age)
    outside = {name for name in services if name and name not in scope.ids}
    if outside:
        existing = sorted(Service.objects.filter(name__in=outside).values_list("name", flat=True))
        if existing:
            raise ServiceNotAllowed(integration=integration, service=existing[0], scope=scope)
    return scope
