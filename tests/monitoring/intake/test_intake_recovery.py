"""Taking over intake rows: a dead worker's claim is noticed within seconds (a lease), and a
batch processed again after a failure counts its alerts once (signals and PROCESSED commit together)."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import OperationalError
from django.utils import timezone

from incidents.models import Alert, Incident
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import am_alert, am_payload

pytestmark = pytest.mark.django_db


def queue_rows(integration, payloads: list[dict]) -> list[AlertIntake]:
    """Rows as the request path stores them (distinct requests: one idempotency key each)."""
    now = timezone.now()
    return [
        AlertIntake.objects.create(integration=integration, kind="alertmanager", body=json.dumps(payload),
                                   idempotency_key=f"repeat-{i}", event_count=len(payload["alerts"]),
                                   received_at=now)
        for i, payload in enumerate(payloads)
    ]


@pytest.fixture
def am_integration(make_integration, make_service):
    integration, _ = make_integration("alertmanager", service=make_service("checkout-api"))
    return integration


def test_the_sweep_takes_over_a_dead_workers_claim_once_its_short_lease_ends(am_integration, settings):
    settings.ALERT_INTAKE_LEASE_SECONDS = 10.0
    [row] = queue_rows(am_integration, [am_payload()])
    claimed_at = timezone.now()
    assert intake_services.alert_intake_claim(intake_id=row.pk, now=claimed_at)  # ... and the worker dies
    row.refresh_from_db()
    assert row.claimed_by and row.lease_until == claimed_at + timedelta(seconds=10)
    assert intake_services.alert_intakes_requeue_stale(now=claimed_at + timedelta(seconds=5)) == 0
    # Seconds after the lease ended, not minutes: the row is queued again and drained.
    assert intake_services.alert_intakes_requeue_stale(now=claimed_at + timedelta(seconds=11)) == 1
    row.refresh_from_db()
    assert row.status == "processed" and row.attempts == 2 and Alert.objects.count() == 2


def test_the_sweep_runs_every_few_seconds():
    schedule = django_settings.CELERY_BEAT_SCHEDULE["monitoring-requeue-alert-intakes"]["schedule"]
    assert schedule <= timedelta(seconds=5)
    assert django_settings.ALERT_INTAKE_LEASE_SECONDS <= 15


def test_a_batch_processed_again_after_losing_the_database_counts_each_repeat_once(am_integration, monkeypatch):
    repeats = 5
    rows = queue_rows(am_integration, [am_payload(am_alert(instance="a"), am_alert(instance="b"))
                                       for _ in range(repeats)])
    real = intake_services.incident_services.signals_ingest
    lost = []

    def applied_then_connection_lost(*, signals):
        real(signals=signals)  # the core did the work ...
        if not lost:
            lost.append(1)
            raise OperationalError("server closed the connection unexpectedly")  # ... the commit never came
        return real(signals=signals)

    monkeypatch.setattr(intake_services.incident_services, "signals_ingest", applied_then_connection_lost)
    with pytest.raises(OperationalError):
        intake_services.alert_intakes_drain()
    monkeypatch.undo()
    assert {row.status for row in AlertIntake.objects.filter(pk__in=[r.pk for r in rows])} == {"queued"}
    assert intake_services.alert_intakes_drain().processed == repeats
    assert sorted(Alert.objects.values_list("count", flat=True)) == [repeats, repeats]
    assert Incident.objects.count() == 1 and Incident.objects.get().alert_count == 2


def test_a_row_taken_over_from_a_slow_worker_is_not_processed_by_it_too(am_integration, settings):
    settings.ALERT_INTAKE_LEASE_SECONDS = 1.0
    [row] = queue_rows(am_integration, [am_payload()])
    slow = intake_services.alert_intakes_claim(limit=1)  # claims, then stalls past its lease
    intake_services.alert_intakes_requeue_stale(now=timezone.now() + timedelta(seconds=2))
    row.refresh_from_db()
    assert row.status == "processed" and row.attempts == 2
    assert intake_services.alert_intakes_process_batch(intakes=slow).processed == 0  # fenced off
    assert sorted(Alert.objects.values_list("count", flat=True)) == [1, 1]
