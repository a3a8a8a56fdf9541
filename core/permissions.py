"""Role checks for the API: who may read, who may act, and which calls agents may make."""
from __future__ import annotations

from rest_framework.permissions import SAFE_METHODS, BasePermission

from .authentication import IntegrationPrincipal
from .choices import Role
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
        return kinds is None or request.auth.kind in kinds


class IsIntegrationOrOperator(BasePermission):
    """Agents with a token, or people who may act (for endpoints both use, e.g. signals)."""

    def has_permission(self, request, view) -> bool:
        return IsIntegration().has_permission(request, view) or RolePermission().has_permission(
            request, view
        )
