"""Monitors over prediction logs: late actuals, drift that only warns, and a breach that opens an incident."""
from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from incidents.models import Alert, Incident
from models_registry.choices import (
    MonitorKind,
    MonitorRunState,
    MonitorStatus,
)
from models_registry.models import MonitorResult, MonitorRun
from models_registry.pipelines import get_pipeline
from models_registry.services import (
    actuals_attach,
    predictions_make,
)
from models_registry.services import monitors as monitor_services
from models_registry.services.replay import flight_records

from . import monitor_fixtures
from .monitor_fixtures import FEB, MAR

# Shared fixtures (a module, not conftest.py: the registry tests own that file).
january_fit = monitor_fixtures.january_fit
champion_model = monitor_fixtures.champion_model

FEB_10 = datetime(2013, 2, 10, tzinfo=UTC)


def _february(n: int, seed: int = 1):
    frame = get_pipeline("flights.journey_time").load(start=FEB, end=MAR).frame
    rows = frame.iloc[np.sort(np.random.default_rng(seed).choice(len(frame), n, replace=False))]
    return rows.reset_index(drop=True)


def _serve(model, rows, *, at=FEB_10, records=None):
    batch = predictions_make(model=model, records=records or flight_records(rows), at=at)
    return batch


def _results(runs) -> dict[str, MonitorResult]:
    return {r.kind: r for r in MonitorResult.objects.filter(run__in=runs)}


def test_performance_waits_for_late_actuals_and_then_uses_only_labelled_predictions(champion_model, settings):
    settings.MONITOR_MIN_ACTUALS = 200
    rows = _february(500)
    batch = _serve(champion_model, rows)
    actual = rows["target"].to_numpy()
    first = [
        {"request_id": rid, "actual": float(a)} for rid, a in zip(batch.request_ids[:150], actual[:150], strict=False)
    ]
    actuals_attach(model=champion_model, actuals=first)

    early = _results(monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR))
    assert early[MonitorKind.PERFORMANCE].status == MonitorStatus.NO_DATA
    assert "350 still waiting" in early[MonitorKind.PERFORMANCE].reasons[0]
    assert early[MonitorKind.OPERATIONAL].metrics["volume"] == 500  # served volume counts every prediction

    rest = [
        {"request_id": rid, "actual": float(a)}
        for rid, a in zip(batch.request_ids[150:400], actual[150:400], strict=False)
    ]
    actuals_attach(model=champion_model, actuals=rest)
    later = _results(monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR))
    performance = later[MonitorKind.PERFORMANCE]
    assert performance.status != MonitorStatus.NO_DATA
    assert performance.sample_size == 400 and performance.metrics["n"] == 400
    expected_mae = np.mean(np.abs(actual[:400] - np.array(batch.predictions[:400])))
    assert performance.metrics["mae"] == pytest.approx(expected_mae)
    assert performance.metrics["validation"]["mae"] == champion_model.versions.get().metrics["mae"]


def test_a_performance_breach_opens_a_model_incident_with_the_model_drift_playbook(
    champion_model, django_capture_on_commit_callbacks
):
    rows = _february(400)
    batch = _serve(champion_model, rows)
    # Every journey lands an hour later than forecast: forecasts are far too optimistic.
    actuals_attach(
        model=champion_model,
        actuals=[
            {"request_id": rid, "actual": p + 60.0}
            for rid, p in zip(batch.request_ids, batch.predictions, strict=False)
        ],
    )
    with django_capture_on_commit_callbacks(execute=True):
        (run,) = monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR)
    assert run.state == MonitorRunState.SUCCEEDED and run.status == MonitorStatus.BREACH
    performance = run.results.get(kind=MonitorKind.PERFORMANCE)
    assert performance.status == MonitorStatus.BREACH
    assert any(r.startswith("breach: MAE") for r in performance.reasons)
    assert performance.signal_outcome == "opened" and performance.incident_id

    incident = Incident.objects.get(pk=performance.incident_id)
    assert incident.service.name == "journey-eta-model"
    # The response hooks run after commit: the model-drift playbook (retrain, compare, promote or roll back).
    assert incident.playbook_run.playbook.name == "Model drift or degradation"
    alert = Alert.objects.get(pk=performance.alert_id)
    assert alert.fingerprint == "model-monitor:journey-time:performance"
    assert alert.labels["monitor"] == "performance"


def test_the_next_breach_of_the_same_kind_joins_the_open_alert_rather_than_opening_another(champion_model):
    for day in (FEB_10, datetime(2013, 2, 20, tzinfo=UTC)):
        rows = _february(300, seed=day.day)
        batch = _serve(champion_model, rows, at=day)
        actuals_attach(
            model=champion_model,
            actuals=[
                {"request_id": rid, "actual": p + 90.0}
                for rid, p in zip(batch.request_ids, batch.predictions, strict=False)
            ],
        )
        monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=day.replace(hour=23))
    breaches = MonitorResult.objects.filter(kind=MonitorKind.PERFORMANCE, status=MonitorStatus.BREACH)
    assert breaches.count() == 2
    assert len({r.alert_id for r in breaches}) == 1
    assert Incident.objects.count() == 1


def test_data_drift_alone_warns_but_does_not_page(champion_model):
    rows = _february(400)
    records = flight_records(rows)
    for record in records:  # every journey flown far longer distances at freezing temperature
        record["distance"] = record["distance"] * 3 + 2000
        record["temp"] = -20.0
    batch = _serve(champion_model, rows, records=records)
    # The model's forecasts turn out right: performance holds, so drift must not page.
    actuals_attach(
        model=champion_model,
        actuals=[
            {"request_id": rid, "actual": p} for rid, p in zip(batch.request_ids, batch.predictions, strict=False)
        ],
    )
    results = _results(monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR))
    drift = results[MonitorKind.DATA_DRIFT]
    assert drift.status == MonitorStatus.WARNING
    drifted = {f["feature"] for f in drift.details["features"] if f["drifted"]}
    assert {"distance", "temp"} <= drifted
    assert "month" in drift.metrics["ignored"]
    assert results[MonitorKind.PERFORMANCE].status == MonitorStatus.OK
    assert not drift.signal_outcome
    # Drift does not page; values outside the training range do, as input data quality (issue #14).
    assert not Alert.objects.filter(fingerprint__endswith=":data_drift").exists()
    quality = results[MonitorKind.DATA_QUALITY]
    assert quality.status == MonitorStatus.BREACH and "distance" in quality.metrics["offending_features"]
    # (Freshness pages too: the only predictions of the month are from Feb 10.)
    assert set(Alert.objects.values_list("fingerprint", flat=True)) == {
        f"model-monitor:{champion_model.name}:data_quality", f"model-monitor:{champion_model.name}:freshness"
    }


def test_drift_turns_into_part_of_the_breach_when_performance_breaches_too(champion_model):
    rows = _february(400)
    records = flight_records(rows)
    for record in records:
        record["distance"] = record["distance"] * 3 + 2000
    batch = _serve(champion_model, rows, records=records)
    actuals_attach(
        model=champion_model,
        actuals=[
            {"request_id": rid, "actual": p + 60.0}
            for rid, p in zip(batch.request_ids, batch.predictions, strict=False)
        ],
    )
    results = _results(monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR))
    assert results[MonitorKind.PERFORMANCE].status == MonitorStatus.BREACH
    assert results[MonitorKind.DATA_DRIFT].status == MonitorStatus.BREACH
    assert Incident.objects.count() == 1  # both signals land in the model's one incident


def test_the_daily_beat_queues_a_run_per_serving_version_and_the_task_executes_it(
    champion_model, django_capture_on_commit_callbacks
):
    rows = _february(150)
    _serve(champion_model, rows)
    with django_capture_on_commit_callbacks(execute=True):
        runs = monitor_services.monitors_schedule(now=datetime(2013, 2, 12, tzinfo=UTC))
    assert len(runs) == 1
    run = MonitorRun.objects.get(pk=runs[0].pk)
    assert run.state == MonitorRunState.SUCCEEDED
    assert run.results.count() == len(MonitorKind.values)
    assert run.results.get(kind=MonitorKind.OPERATIONAL).metrics["volume"] == 150


def test_refused_prediction_requests_count_in_the_operational_error_rate(champion_model, settings):
    from core.exceptions import DomainError

    settings.MONITOR_ERROR_RATE_BREACH = 0.5
    settings.MONITOR_LATENCY_P99_WARNING_MS = settings.MONITOR_LATENCY_P99_BREACH_MS = 1e6  # a busy CI box
    rows = _february(90)
    _serve(champion_model, rows, at=None)  # served now: 90 predictions today
    bad = flight_records(rows.iloc[:1])
    del bad[0]["carrier"]
    for _ in range(10):
        with pytest.raises(DomainError):
            predictions_make(model=champion_model, records=bad)
    (run,) = monitor_services.monitors_run_now(model=champion_model)  # the last 7 days, up to now
    operational = run.results.get(kind=MonitorKind.OPERATIONAL)
    assert operational.metrics["volume"] == 90 and operational.metrics["errors"] == 10
    assert operational.metrics["error_rate"] == pytest.approx(0.1)
    assert operational.status == MonitorStatus.WARNING
    assert "warning: error rate 10.00% ≥ 1.00%" in operational.reasons


def test_a_stuck_journey_model_is_judged_on_recall_and_precision_at_the_alert_budget(db, make_service, settings):
    """Classification: performance and bias use recall/precision at the budget, compared with validation."""
    from models_registry.artifacts import artifact_save
    from models_registry.choices import VersionAlias, VersionStatus
    from models_registry.models import ModelVersion
    from models_registry.services import registered_model_get_or_create

    settings.MONITOR_MIN_ACTUALS = 100
    pipeline = get_pipeline("flights.stuck_journey")
    train = pipeline.load(start=datetime(2013, 1, 11, tzinfo=UTC), end=datetime(2013, 1, 25, tzinfo=UTC)).frame
    fitted = pipeline.fit(
        features=pipeline.build_features(train), target=train["target"].to_numpy(), params={"max_iter": 20}
    )
    service = make_service("journey-eta-model")
    model = registered_model_get_or_create(
        name="stuck-journey", pipeline="flights.stuck_journey", team=service.team, service=service
    )
    path, sha = artifact_save(obj=fitted, relative_path="stuck-journey/v1.joblib")
    # Validation figures the live month cannot reach: recall falls by more than the breach points.
    ModelVersion.objects.create(
        model=model, version=1, alias=VersionAlias.CHAMPION, status=VersionStatus.CHAMPION, data_fingerprint="0" * 64,
        train_start=FEB, train_end=FEB, holdout_start=FEB, holdout_end=FEB, features=fitted.features,
        params=fitted.params, code_version="test", artifact_path=path, artifact_sha256=sha,
        metrics={"recall_at_budget": 0.99, "precision_at_budget": 0.99, "alert_budget": 0.1},
    )
    rows = pipeline.load(start=FEB, end=MAR).frame.iloc[:6000:15].reset_index(drop=True)
    batch = _serve(model, rows)
    actuals_attach(
        model=model,
        actuals=[
            {"request_id": rid, "actual": int(a)} for rid, a in zip(batch.request_ids, rows["target"], strict=False)
        ],
    )
    results = _results(monitor_services.monitors_run_now(model=model, period_start=FEB, period_end=MAR))
    performance = results[MonitorKind.PERFORMANCE]
    assert performance.status == MonitorStatus.BREACH
    assert {"recall_at_budget", "precision_at_budget", "auc"} <= set(performance.metrics)
    assert performance.reasons[0].startswith("breach: recall at budget") or performance.reasons[0].startswith(
        "breach: precision at budget"
    )
    assert results[MonitorKind.BIAS].details["carrier"]["metric"] == "recall_at_budget"
