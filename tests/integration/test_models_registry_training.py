"""Training on the real `training` queue: a celery worker runs it, the gate promotes, PostgreSQL keeps one champion."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import IntegrityError, transaction

from core.choices import IntegrationKind
from models_registry.choices import TrainingRunStatus, VersionAlias
from models_registry.models import ModelVersion, PredictionLog, TrainingRun
from models_registry.pipelines import get_pipeline
from models_registry.services import (
    registered_model_get_or_create,
    training_run_create,
    training_run_execute,
)

from .conftest import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

FAST = {"train_window_days": 10, "holdout_days": 4, "max_iter": 25}


def test_a_worker_trains_queued_runs_and_the_database_keeps_one_champion(celery_worker_process, make_service):
    service = make_service("journey-eta-model")
    model = registered_model_get_or_create(
        name="journey-time", pipeline="flights.journey_time", team=service.team, service=service
    )
    first = training_run_create(model=model, as_of=datetime(2013, 3, 1, tzinfo=UTC), params=FAST)

    done = wait_for(
        lambda: TrainingRun.objects.filter(
            pk=first.pk, status__in=[TrainingRunStatus.SUCCEEDED, TrainingRunStatus.FAILED]
        ).first(),
        timeout=120, message="the worker to finish training run 1",
    )
    assert done.status == TrainingRunStatus.SUCCEEDED, done.error
    champion = ModelVersion.objects.get(model=model, alias=VersionAlias.CHAMPION)
    assert champion.training_run_id == first.pk and champion.artifact_sha256

    weak = training_run_create(model=model, as_of=datetime(2013, 3, 1, tzinfo=UTC), params={**FAST, "max_iter": 1})
    wait_for(lambda: TrainingRun.objects.filter(pk=weak.pk, status=TrainingRunStatus.SUCCEEDED).exists(),
             timeout=120, message="the worker to finish training run 2")
    rejected = ModelVersion.objects.get(training_run=weak)
    assert rejected.alias == VersionAlias.CHALLENGER
    assert ModelVersion.objects.get(model=model, alias=VersionAlias.CHAMPION) == champion

    # The partial unique index refuses a second champion even when code forgets to clear the first.
    rejected.alias = VersionAlias.CHAMPION
    with pytest.raises(IntegrityError), transaction.atomic():
        rejected.save(update_fields=["alias"])


def test_predictions_are_logged_and_actuals_attached_on_postgresql(make_service, integration_client):
    service = make_service("journey-eta-model")
    model = registered_model_get_or_create(
        name="journey-time", pipeline="flights.journey_time", team=service.team, service=service
    )
    run = training_run_create(model=model, as_of=datetime(2013, 3, 1, tzinfo=UTC), params=FAST, enqueue=False)
    assert training_run_execute(run_id=run.pk).decision.decision == "promote"
    pipeline = get_pipeline("flights.journey_time")
    raw = pipeline.load(start=datetime(2013, 3, 1, tzinfo=UTC), end=datetime(2013, 3, 1, 6, tzinfo=UTC)).frame.head(50)
    client = integration_client(IntegrationKind.MODEL)

    response = client.post(
        "/api/v1/models/journey-time/predict", {"records": pipeline.records_from_frame(raw)}, format="json"
    )

    assert response.status_code == 200, response.content
    body = response.json()
    ids = [p["request_id"] for p in body["predictions"]]
    # One row per prediction, written by COPY: the record as validated, the prediction, version, batch latency.
    logs = {log.request_id: log for log in PredictionLog.objects.filter(model=model)}
    assert set(logs) == set(ids)
    records = pipeline.records_from_frame(raw)
    for record, answer in zip(records, body["predictions"], strict=False):
        log = logs[answer["request_id"]]
        assert log.features == record and log.prediction == answer["prediction"]
        assert log.version.version == 1 and log.latency_ms == pytest.approx(body["latency_ms"], abs=1e-3)
    assert any(value is None for record in records for value in record.values())  # nulls stored as JSON null
    actuals = [{"request_id": rid, "actual": 10.0} for rid in ids]
    assert client.post("/api/v1/models/journey-time/actuals", {"actuals": actuals}, format="json").status_code == 200
    assert PredictionLog.objects.filter(actual=10.0).count() == 50
