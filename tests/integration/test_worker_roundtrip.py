"""A task enqueued through the HTTP API runs in the separate worker process and lands in PostgreSQL."""
from __future__ import annotations

import socket

import pytest
from django.db import connection

from core.models import ConnectionTest

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]


def test_the_api_hands_work_to_the_celery_worker(celery_worker_process, integration_client, settings):
    assert connection.vendor == "postgresql"
    assert settings.CELERY_TASK_ALWAYS_EAGER is False
    client = integration_client()
    response = client.post("/api/v1/integrations/test")
    assert response.status_code == 202
    test_id = response.json()["id"]
    test = wait_for(
        lambda: ConnectionTest.objects.filter(pk=test_id, processed_at__isnull=False).first(),
        message="the worker to process the connection test",
    )
    # Processed by the worker subprocess (it records its own host name), not eagerly in this process.
    assert test.processed_by == socket.gethostname()
    assert "core.process_connection_test[" in celery_worker_process.log_path.read_text()


def test_readyz_checks_postgres_and_redis(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"] == {"database": "ok", "broker": "ok"}
