"""Monitors on the real stack: a celery worker runs a queued monitor run on PostgreSQL; a breach opens an incident."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from django.db import transaction

from incidents.models import Incident
from models_registry.choices import (
    MonitorKind,
    MonitorRunState,
    MonitorStatus,
    TrainingRunStatus,
    VersionAlias,
)
from models_registry.models import ModelVersion, MonitorRun, PredictionLog, TrainingRun
from models_registry.pipelines import get_pipeline
from models_registry.services import monitors as monitor_services
from models_registry.services import registered_model_get_or_create, training_run_create
from models_registry.services.replay import flight_records

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAST = {"train_window_days": 10, "holdout_days": 4, "max_iter": 25}
FEB = datetime(2013, 2, 1, tzinfo=UTC)
MAR = datetime(2013, 3, 1, tzinfo=UTC)


def test_a_worker_runs_queued_monitors_and_a_performance_breach_opens_an_incident(celery_worker_process, make_service):
    service = make_service("journey-eta-model")
    model = registered_model_get_or_create(
        name="journey-time", pipeline="flights.journey_time", team=service.team, service=service,
        business_kpi="Call-centre contacts",
    )
    # The worker trains (and stores the artifact with the reference sample where it will read it back).
    run = training_run_create(model=model, as_of=FEB, params=FAST)
    done = wait_for(
        lambda: TrainingRun.objects.filter(
            pk=run.pk, status__in=[TrainingRunStatus.SUCCEEDED, TrainingRunStatus.FAILED]
        ).first(),
        timeout=120, message="the worker to train the champion",
    )
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error
    champion = ModelVersion.objects.get(model=model, alias=VersionAlias.CHAMPION)

    # February's served predictions, logged as serving does; every journey an hour later than forecast.
    frame = get_pipeline(model.pipeline).load(start=FEB, end=MAR).frame.iloc[:3000:10].reset_index(drop=True)
    PredictionLog.objects.bulk_create(
        PredictionLog(
            model=model, version=champion, request_id=uuid.uuid4().hex, features=record,
            prediction=float(actual) - 60.0,
            latency_ms=3.0, created_at=datetime(2013, 2, 12, tzinfo=UTC), actual=float(actual), actual_at=MAR,
        )
        for record, actual in zip(flight_records(frame), frame["target"], strict=False)
    )
    with transaction.atomic():  # enqueued after commit, like the API does
        (queued,) = monitor_services.monitors_request(model=model, period_start=FEB, period_end=MAR)

    finished = wait_for(
        lambda: MonitorRun.objects.filter(
            pk=queued.pk, state__in=[MonitorRunState.SUCCEEDED, MonitorRunState.FAILED]
        ).first(),
        timeout=120, message="the worker to run the monitors",
    )
    assert finished.state == MonitorRunState.SUCCEEDED, finished.error
    results = {r.kind: r for r in finished.results.all()}
    assert set(results) == set(MonitorKind.values)
    performance = results[MonitorKind.PERFORMANCE]
    assert performance.status == MonitorStatus.BREACH and performance.metrics["mae"] == pytest.approx(60.0)
    # Drift details are stored as JSON PostgreSQL accepts (no NaN/inf).
    assert results[MonitorKind.DATA_DRIFT].details["features"]
    incident = Incident.objects.get(pk=performance.incident_id)
    assert incident.service_id == service.pk
