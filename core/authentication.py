"""API authentication: integration tokens for agents, DRF tokens and sessions for people."""
from __future__ import annotations

import copy
import threading
import time
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.utils import timezone
from rest_framework import authentication, exceptions
from rest_framework.request import Request

from .models import Integration
from .selectors import TOKEN_PREFIX, integration_get_by_token, token_hash

# Each web process keeps the integrations it authenticated for this long, so an agent's requests
# cost no database lookup: a revocation (or any admin change to an integration) reaches every
# process within this bound; in the process that revoked, at once.
INTEGRATION_CACHE_SECONDS = 5.0
INTEGRATION_CACHE_MAX = 1024  # tokens kept per process; more are looked up every time
_integrations: dict[str, tuple[float, Integration]] = {}
_integrations_lock = threading.Lock()


@dataclass(frozen=True, slots=True)
class IntegrationPrincipal:
    """`request.user` for a request made with an integration token (an agent, not a person)."""

    integration: Integration
    is_authenticated: bool = True
    is_anonymous: bool = False
    is_active: bool = True
    is_staff: bool = False
    is_superuser: bool = False
    pk: None = None
    id: None = None

    @property
    def username(self) -> str:
        return f"integration:{self.integration.name}"

    def __str__(self) -> str:
        return self.username


def authenticate_integration_token(token: str) -> Integration:
    """The active integration for `token`, or AuthenticationFailed (401).

    Known active tokens are answered from this process's cache for up to
    INTEGRATION_CACHE_SECONDS; unknown and revoked tokens always ask the database.
    """
    if not token.startswith(TOKEN_PREFIX):
        raise exceptions.AuthenticationFailed("Unknown integration token.")
    digest = token_hash(token)
    now = time.monotonic()
    cached = _integrations.get(digest)
    if cached is not None and cached[0] > now:
        _refuse_expired_integration(cached[1])
        # A copy: callers may set attributes on their integration; the cached one stays clean.
        return copy.copy(cached[1])
    integration = integration_get_by_token(token=token)
    if integration is None:
        raise exceptions.AuthenticationFailed("Unknown integration token.")
    if not integration.is_active:
        integration_cache_forget(token_hash=digest)
        raise exceptions.AuthenticationFailed("Integration token has been revoked.")
    _refuse_expired_integration(integration)
    with _integrations_lock:
        if len(_integrations) >= INTEGRATION_CACHE_MAX:
            _integrations.clear()
        _integrations[digest] = (now + INTEGRATION_CACHE_SECONDS, copy.copy(integration))
    return integration


def _refuse_expired_integration(integration: Integration) -> None:
    """INTEGRATION_TOKEN_MAX_AGE_DAYS (0: never): an older token gets 401 saying it expired, and when."""
    days = settings.INTEGRATION_TOKEN_MAX_AGE_DAYS
    if days and integration.created_at and integration.created_at + timedelta(days=days) < timezone.now():
        raise exceptions.AuthenticationFailed(
            f"Integration token expired ({days} days after it was created on {integration.created_at:%Y-%m-%d}); "
            "create a new one for this integration.")


def integration_cache_forget(*, token_hash: str | None = None) -> None:
    """Drop one cached integration (by its token hash), or all of them."""
    with _integrations_lock:
        if token_hash is None:
            _integrations.clear()
        else:
            _integrations.pop(token_hash, None)


class IntegrationTokenAuthentication(authentication.BaseAuthentication):
    """`Authorization: Bearer aiops_...` (what Alertmanager's http_config.authorization sends)."""

    keyword = "Bearer"

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if len(header) != 2 or header[0].lower() != self.keyword.lower().encode():
            return None
        token = header[1].decode(errors="replace")
        if not token.startswith(TOKEN_PREFIX):
            return None  # may be a person's bearer token, handled by the next class
        integration = authenticate_integration_token(token)
        return IntegrationPrincipal(integration=integration), integration

    def authenticate_header(self, request: Request) -> str:
        # Makes DRF answer 401 (not 403) to a request without credentials.
        return 'Bearer realm="api"'


class BearerTokenAuthentication(authentication.TokenAuthentication):
    """A person's API token, sent as `Authorization: Token <key>` or `Bearer <key>`."""

    def authenticate(self, request: Request):
        header = authentication.get_authorization_header(request).split()
        if len(header) == 2 and header[0].lower() in (b"token", b"bearer"):
            return self.authenticate_credentials(header[1].decode(errors="replace"))
        return None

    def authenticate_credentials(self, key):
        user, token = super().authenticate_credentials(key)
        days = settings.API_TOKEN_MAX_AGE_DAYS
        if days and token.created + timedelta(days=days) < timezone.now():
            raise exceptions.AuthenticationFailed(
                f"API token expired ({days} days after it was created); ask for a new one.")
        return user, token
