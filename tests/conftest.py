"""Shared fixtures: `make_*` factories for people, teams, services, integrations and API clients."""
from __future__ import annotations

import itertools

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from rest_framework.test import APIClient

from core.choices import IntegrationKind, Role, Tier
from core.services import integration_create, service_get_or_create, team_get_or_create

_seq = itertools.count(1)


@pytest.fixture(autouse=True)
def _isolate_files(settings, tmp_path):
    """Keep artifacts and file e-mail out of the working tree during tests."""
    settings.ARTIFACT_DIR = tmp_path / "artifacts"
    settings.EMAIL_FILE_PATH = str(tmp_path / "mail")


@pytest.fixture
def make_user(db):
    def make(*roles: str, username: str | None = None, email: str | None = None, **extra):
        username = username or f"user{next(_seq)}"
        user = get_user_model().objects.create_user(
            username=username, email=email or f"{username}@example.com", password="pw-" + username, **extra
        )
        for role in roles:
            user.groups.add(Group.objects.get_or_create(name=role)[0])
        return user

    return make


@pytest.fixture
def make_team(db):
    def make(name: str | None = None, **extra):
        return team_get_or_create(name=name or f"Team {next(_seq)}", **extra)

    return make


@pytest.fixture
def make_service(db, make_team):
    def make(name: str | None = None, *, team=None, tier: int = Tier.TIER_3, downtime_cost_per_minute=0, **extra):
        service = service_get_or_create(
            name=name or f"service-{next(_seq)}",
            team=team or make_team(),
            tier=tier,
            downtime_cost_per_minute=downtime_cost_per_minute,
        )
        if extra:
            for key, value in extra.items():
                setattr(service, key, value)
            service.save()
        return service

    return make


@pytest.fixture
def make_integration(db, make_service):
    """Returns (integration, token)."""

    def make(kind: str = IntegrationKind.GENERIC, *, service=None, name: str | None = None, secret: str = ""):
        return integration_create(
            kind=kind, name=name or f"integration-{next(_seq)}", service=service or make_service(), secret=secret
        )

    return make


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def client_as(make_user):
    """An APIClient logged in as a fresh user holding `roles`."""

    def make(*roles: str, user=None) -> APIClient:
        client = APIClient()
        client.force_authenticate(user or make_user(*roles))
        return client

    return make


@pytest.fixture
def operator_client(client_as):
    return client_as(Role.OPERATOR)


@pytest.fixture
def manager_client(client_as):
    return client_as(Role.MANAGER)


@pytest.fixture
def admin_client_api(client_as):
    return client_as(Role.ADMIN)


@pytest.fixture
def integration_client(make_integration):
    """An APIClient authenticated with a new generic integration token; `.integration` is attached."""

    def make(kind: str = IntegrationKind.GENERIC, **kwargs) -> APIClient:
        integration, token = make_integration(kind, **kwargs)
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
        client.integration = integration
        client.token = token
        return client

    return make
