"""Reads of the organisation model."""
from __future__ import annotations

import hashlib

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

from .choices import Role
from .models import Integration, Service

TOKEN_PREFIX = "aiops_"


def token_hash(token: str) -> str:
    # Tokens carry 256 bits of entropy, so an unsalted SHA-256 is enough (as GitHub does).
    return hashlib.sha256(token.encode()).hexdigest()


def integration_get_by_token(*, token: str) -> Integration | None:
    """The integration a token belongs to, revoked or not; None for an unknown token."""
    if not token.startswith(TOKEN_PREFIX):
        return None
    return Integration.objects.select_related("service").filter(token_hash=token_hash(token)).first()


# Roles are cached on the user object, so one request's checks share one query; an attribute of our
# own, which the user types do not declare.
_ROLES_CACHE_ATTR = "_aiops_roles"


def user_roles(user: AbstractBaseUser | AnonymousUser | None) -> frozenset[str]:
    if user is None or not getattr(user, "is_authenticated", False):
        return frozenset()
    if getattr(user, "is_superuser", False):
        return frozenset(Role.values)
    groups = getattr(user, "groups", None)
    if groups is None:
        return frozenset()  # not a person (an integration token's principal): no roles, nothing cached
    cached = getattr(user, _ROLES_CACHE_ATTR, None)
    if cached is None:
        cached = frozenset(groups.values_list("name", flat=True))
        setattr(user, _ROLES_CACHE_ATTR, cached)
    return cached


def user_has_role(user: AbstractBaseUser | AnonymousUser | None, *roles: str) -> bool:
    return bool(user_roles(user) & set(roles))


def service_get_by_name(*, name: str) -> Service | None:
    return Service.objects.filter(name=name).first()
