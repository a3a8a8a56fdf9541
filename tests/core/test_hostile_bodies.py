"""Hostile bodies on every write endpoint: a declared 50 MB body is refused with 413 before it is read, and
JSON nested 10,000 deep gets a 400 naming the problem; nothing is stored and nothing answers 5xx."""
from __future__ import annotations

import pytest

from core.choices import IntegrationKind, Role
from incidents.models import Alert
from monitoring.models import AlertIntake

pytestmark = pytest.mark.django_db

FIFTY_MB = 50 * 1024 * 1024
DEEP = ("[" * 10_000 + "]" * 10_000).encode()


class CountingStream:
    """A wsgi.input that would give 50 MB and counts what the server reads of it."""

    def __init__(self, size: int):
        self.left, self.read_bytes = size, 0

    def read(self, size: int = -1) -> bytes:
        size = self.left if size is None or size < 0 else min(size, self.left)
        self.left -= size
        self.read_bytes += size
        return b"x" * size

    def readline(self, size: int = -1) -> bytes:
        return self.read(size)


ENDPOINTS = [
    ("/api/v1/integrations/alertmanager", IntegrationKind.ALERTMANAGER),
    ("/api/v1/integrations/grafana", IntegrationKind.GRAFANA),
    ("/api/v1/integrations/pagerduty/v2/enqueue", IntegrationKind.PAGERDUTY),
    ("/api/v1/telemetry", IntegrationKind.GENERIC),
    ("/api/v1/signals/", IntegrationKind.GENERIC),
    ("/otlp/v1/metrics", IntegrationKind.OTLP),
    ("/api/v1/models/journey-time/predict", IntegrationKind.MODEL),
    ("/api/v1/teams/", None),  # a person's write
]


@pytest.fixture
def caller(integration_client, client_as):
    def make(kind):
        return client_as(Role.ADMIN) if kind is None else integration_client(kind)
    return make


@pytest.mark.parametrize(("path", "kind"), ENDPOINTS)
def test_a_declared_50_mb_body_is_refused_before_it_is_read(caller, path, kind):
    stream = CountingStream(FIFTY_MB)
    response = caller(kind).generic("POST", path, b"", content_type="application/json",
                                    **{"CONTENT_LENGTH": str(FIFTY_MB), "wsgi.input": stream})
    assert response.status_code == 413, (path, response.status_code, response.content[:300])
    assert stream.read_bytes <= 1024 * 1024, (path, stream.read_bytes)
    assert not AlertIntake.objects.exists()


@pytest.mark.parametrize(("path", "kind"), ENDPOINTS)
def test_json_nested_10000_deep_gets_a_400(caller, path, kind):
    response = caller(kind).generic("POST", path, DEEP, content_type="application/json")
    assert 400 <= response.status_code < 500, (path, response.status_code)
    assert response.status_code != 413
    assert not AlertIntake.objects.exists() and not Alert.objects.exists()
