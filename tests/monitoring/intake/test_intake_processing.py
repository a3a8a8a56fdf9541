"""The ingest task: claims its row once, records refusals as FAILED, retries database trouble."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.db import OperationalError
from django.utils import timezone

from incidents.models import Alert
from incidents.signals import InvalidSignal
from monitoring import tasks
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import am_payload

URL = "/api/v1/integrations/alertmanager"
pytestmark = pytest.mark.django_db


def store(client) -> AlertIntake:
    """Post a notification without running its on-commit task."""
    assert client.post(URL, data=json.dumps(am_payload()), content_type="application/json").status_code == 202
    return AlertIntake.objects.latest("pk")


def test_a_redelivered_task_finds_the_row_claimed_and_does_nothing(am_client):
    intake = store(am_client)
    assert intake_services.alert_intake_process(intake_id=intake.pk).status == "processed"
    assert intake_services.alert_intake_process(intake_id=intake.pk) is None
    assert Alert.objects.count() == 2 and set(Alert.objects.values_list("count", flat=True)) == {1}


def test_a_row_the_core_refuses_is_failed_with_the_reason_and_not_retried(am_client, monkeypatch):
    intake = store(am_client)

    def refuse(*, signals):
        raise InvalidSignal("No service named 'gone'.", field="service")

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", refuse)
    tasks.process_alert_intake.apply(args=[intake.pk])
    intake.refresh_from_db()
    assert intake.status == "failed" and "No service named 'gone'" in intake.error
    assert intake.attempts == 1


def test_database_trouble_puts_the_row_back_in_the_queue_for_a_retry(am_client, monkeypatch):
    intake = store(am_client)

    def down(*, signals):
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", down)
    with pytest.raises(OperationalError):
        intake_services.alert_intake_process(intake_id=intake.pk)
    intake.refresh_from_db()
    assert intake.status == "queued" and "server closed" in intake.error
    assert not Alert.objects.exists()  # nothing half-done: signals and status in one transaction
    monkeypatch.undo()
    assert intake_services.alert_intake_process(intake_id=intake.pk).status == "processed"


def test_the_answer_does_not_depend_on_the_broker_and_the_reaper_enqueues_later(
    am_client, monkeypatch, django_capture_on_commit_callbacks
):
    def broker_down(*args, **kwargs):
        raise ConnectionError("redis is down")

    monkeypatch.setattr(tasks.process_alert_intake, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = am_client.post(URL, data=json.dumps(am_payload()), content_type="application/json")
    assert response.status_code == 202
    intake = AlertIntake.objects.get()
    assert intake.status == "queued"
    monkeypatch.undo()
    assert intake_services.alert_intakes_requeue_stale() == 0  # too recent: its message may be on the way
    AlertIntake.objects.update(received_at=timezone.now() - timedelta(minutes=3))
    assert intake_services.alert_intakes_requeue_stale() == 1
    intake.refresh_from_db()
    assert intake.status == "processed" and Alert.objects.count() == 2


def test_a_row_claimed_by_a_worker_that_died_is_taken_over(am_client):
    intake = store(am_client)
    assert intake_services.alert_intake_claim(intake_id=intake.pk)
    assert intake_services.alert_intake_process(intake_id=intake.pk) is None  # claimed, fresh
    AlertIntake.objects.update(claimed_at=timezone.now() - timedelta(minutes=10))
    assert intake_services.alert_intake_process(intake_id=intake.pk).status == "processed"


def test_the_task_retries_database_trouble_then_records_the_failure(am_client, monkeypatch):
    intake = store(am_client)
    calls = []

    def down(*, signals):
        calls.append(1)
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", down)
    monkeypatch.setattr(tasks.process_alert_intake, "retry", _retry_now(tasks.process_alert_intake))
    result = tasks.process_alert_intake.apply(args=[intake.pk])
    assert isinstance(result.result, OperationalError)
    intake.refresh_from_db()
    assert len(calls) == tasks.ALERT_INTAKE_MAX_RETRIES + 1
    assert intake.status == "failed" and "server closed" in intake.error


def _retry_now(task):
    """Eager retries without the backoff sleep: run the task again with the retry count bumped."""

    def retry(exc=None, countdown=None, **kwargs):
        task.request.retries += 1
        try:
            return task.run(*task.request.args)
        finally:
            task.request.retries -= 1

    return retry
