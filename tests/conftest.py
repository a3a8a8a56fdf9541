"""Shared fixtures: `make_*` factories (people, teams, services, integrations, incidents, alerts, series,
model versions) and API clients."""
from __future__ import annotations

import itertools
from datetime import UTC, datetime

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.utils import timezone
from rest_framework.test import APIClient

from core.choices import IntegrationKind, Role, Tier
from core.services import integration_create, service_get_or_create, team_get_or_create
from incidents.models import Alert, Incident
from models_registry.choices import VersionAlias, VersionStatus
from models_registry.models import ModelVersion
from models_registry.services import registered_model_get_or_create
from monitoring.formats.native import canonical_labels
from monitoring.models import MetricSeries
from monitoring.services.points import labels_hash

_seq = itertools.count(1)

# Fixtures that give a test the database; a test with none of them (and no django_db mark) never queries.
_DB_FIXTURES = {"db", "transactional_db", "django_db_reset_sequences", "django_db_serialized_rollback", "live_server"}


def pytest_addoption(parser):
    parser.addoption(
        "--db-only", action="store_true",
        help="run only the tests that use the database (scripts/test.sh's PostgreSQL pass: the others ran on SQLite)",
    )


def pytest_collection_modifyitems(config, items):
    if not config.getoption("--db-only"):
        return
    keep, drop = [], []
    for item in items:
        uses_db = item.get_closest_marker("django_db") or _DB_FIXTURES & set(getattr(item, "fixturenames", ()))
        (keep if uses_db else drop).append(item)
    if drop:
        config.hook.pytest_deselected(items=drop)
        items[:] = keep


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
def make_alert(db, make_service):
    """An alert row straight in the database (signal intake has its own tests); firing unless told."""

    def make(*, incident=None, service=None, title: str | None = None, fingerprint: str | None = None,
             source_kind: str = "alertmanager", labels=None, seen_at=None, **fields):
        service = service or (incident.service if incident else make_service())
        seen_at = seen_at or timezone.now()
        fields.setdefault("first_seen", seen_at)
        fields.setdefault("last_seen", seen_at)
        return Alert.objects.create(
            fingerprint=fingerprint or f"fp-{next(_seq)}", source_kind=source_kind, source_name="test",
            service=service, incident=incident, title=title or (incident.title if incident else "Alert"),
            labels=labels or {}, **fields,
        )

    return make


@pytest.fixture
def make_incident(db, make_service, make_alert):
    """An incident straight in the database (the intake path has its own tests), with one alert unless
    `with_alert=False`; the team is the service's unless given."""

    def make(*, severity: int = 3, service=None, title: str | None = None, source_kind: str = "alertmanager",
             opened_at=None, alert_count: int = 1, labels=None, with_alert: bool = True, **fields):
        service = service or make_service()
        opened_at = opened_at or timezone.now()
        title = title or f"Incident {next(_seq)}"
        fields.setdefault("team", service.team)
        fields.setdefault("last_alert_at", opened_at)
        fields.setdefault("alert_count", 1 if with_alert else 0)
        incident = Incident.objects.create(
            title=title, service=service, severity=severity, opened_at=opened_at, **fields
        )
        if with_alert:
            make_alert(incident=incident, fingerprint=f"fp-{incident.pk}", source_kind=source_kind, title=title,
                       labels=labels, count=alert_count, seen_at=opened_at)
        return incident

    return make


@pytest.fixture
def make_series(db, make_service):
    """A metric series (no points) keyed as telemetry intake keys it: canonical labels and their hash."""

    def make(*, service=None, metric: str = "latency_ms", labels: dict[str, str] | None = None, unit: str = "",
             **fields):
        labels = labels or {}
        return MetricSeries.objects.create(
            service=service or make_service(), metric=metric, labels=labels,
            labels_hash=labels_hash(canonical_labels(labels)), unit=unit, **fields,
        )

    return make


# Lineage dates of a hand-made version: inside the flights data the reference pipelines train on.
_TRAIN_START = datetime(2013, 1, 11, tzinfo=UTC)
_HOLDOUT_START = datetime(2013, 1, 25, tzinfo=UTC)
_HOLDOUT_END = datetime(2013, 2, 1, tzinfo=UTC)


@pytest.fixture
def make_model_version(db, make_service):
    """A model version row without training (training has its own tests): for a new registered model
    unless `model` is given, numbered after the model's last version."""

    def make(model=None, *, version: int | None = None, alias: str = VersionAlias.NONE,
             status: str = VersionStatus.CANDIDATE, **fields):
        if model is None:
            service = make_service()
            model = registered_model_get_or_create(
                name=f"model-{next(_seq)}", pipeline="flights.journey_time", team=service.team, service=service
            )
        if version is None:
            last = model.versions.order_by("-version").values_list("version", flat=True).first()
            version = (last or 0) + 1
        defaults = {
            "data_fingerprint": "0" * 64, "train_start": _TRAIN_START, "train_end": _HOLDOUT_START,
            "holdout_start": _HOLDOUT_START, "holdout_end": _HOLDOUT_END, "code_version": "test",
        }
        return ModelVersion.objects.create(
            model=model, version=version, alias=alias, status=status, **(defaults | fields)
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
