"""Weekly model report: the numbers on a fixed dataset, reproducible for a past week, on a page and e-mailed."""
from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from django.core import mail

from incidents.models import Delivery
from models_registry.choices import (
    GateOutcome,
    MonitorKind,
    MonitorStatus,
    TrainingRunStatus,
    VersionAlias,
    VersionStatus,
)
from models_registry.models import (
    GateDecision,
    ModelVersion,
    MonitorResult,
    MonitorRun,
    PredictionLog,
    TrainingRun,
)
from models_registry.services import registered_model_get_or_create
from models_registry.services import weekly_report as weekly_services

MONDAY = datetime(2013, 2, 4, tzinfo=UTC)
NEXT_MONDAY = MONDAY + timedelta(days=7)


def version_of(model, number=1):
    return ModelVersion.objects.create(
        model=model, version=number, alias=VersionAlias.CHAMPION if number == 1 else VersionAlias.NONE,
        status=VersionStatus.CHAMPION, data_fingerprint="0" * 64, train_start=MONDAY, train_end=MONDAY,
        holdout_start=MONDAY, holdout_end=MONDAY, code_version="test", artifact_path="x", artifact_sha256="0" * 64,
    )


_ids = itertools.count()


def log(model, version, *, prediction, actual=None, at=MONDAY + timedelta(days=1), actual_at=None):
    return PredictionLog.objects.create(
        model=model, version=version, request_id=f"r{next(_ids)}", features={}, prediction=prediction, latency_ms=1.0,
        created_at=at, actual=actual, actual_at=actual_at or (at + timedelta(hours=2) if actual is not None else None),
    )


@pytest.fixture
def fixed_week(db, make_service, settings):
    settings.MODEL_ALERT_BUDGET = 0.10
    service = make_service("journey-eta-model")
    journey = registered_model_get_or_create(name="journey-time", pipeline="flights.journey_time", team=service.team,
                                             service=service)
    stuck = registered_model_get_or_create(name="stuck-journey", pipeline="flights.stuck_journey", team=service.team)
    jv, sv = version_of(journey), version_of(stuck)
    # Journey time: errors (actual - forecast) 0, +30, 0, -40 → MAE 17.5, one too optimistic, one too conservative.
    for prediction, actual in ((10, 10), (20, 50), (30, 30), (40, 0)):
        log(journey, jv, prediction=prediction, actual=actual)
    # Served in the week, outcome known only after it: counts in volume, never in the week's accuracy.
    late = log(journey, jv, prediction=5, actual=500, actual_at=NEXT_MONDAY + timedelta(days=1))
    log(journey, jv, prediction=99, actual=0, at=NEXT_MONDAY + timedelta(hours=1))  # next week
    # Stuck: 10 scores, budget 10 % flags the top one (a hit); 2 stuck journeys → precision 1.0, recall 0.5.
    for i, score in enumerate([0.9, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2, 0.1, 0.05]):
        log(stuck, sv, prediction=score, actual=1.0 if i in (0, 5) else 0.0)
    run = TrainingRun.objects.create(model=journey, status=TrainingRunStatus.SUCCEEDED, as_of=MONDAY,
                                     time_limit_seconds=60)
    TrainingRun.objects.filter(pk=run.pk).update(created_at=MONDAY + timedelta(days=2))
    GateDecision.objects.create(model=journey, challenger=version_of(journey, 2), champion=jv,
                                decision=GateOutcome.REJECT, reasons=["fail: MAE gain over champion -1%"],
                                decided_by="training run 1", created_at=MONDAY + timedelta(days=2))
    monitor_run = MonitorRun.objects.create(model=journey, version=jv, period_start=MONDAY, period_end=NEXT_MONDAY)
    MonitorResult.objects.create(
        run=monitor_run, model=journey, version=jv, kind=MonitorKind.DATA_QUALITY, period_start=MONDAY,
        period_end=NEXT_MONDAY, status=MonitorStatus.BREACH, metrics={"offending_features": ["distance"]},
        incident_id=42, signal_outcome="opened", created_at=NEXT_MONDAY,
    )
    return journey, stuck, late


def test_the_report_numbers_on_a_fixed_week(fixed_week):
    report = weekly_services.weekly_report_build(week_start=date(2013, 2, 6))  # any day: its Monday is taken

    assert report.week_start == date(2013, 2, 4) and report.week_end == date(2013, 2, 11)
    journey, stuck = (next(m for m in report.models if m.model == name) for name in ("journey-time", "stuck-journey"))
    week = journey.accuracy[-1]
    assert journey.volume == 5 and week.labelled == 4 and len(journey.accuracy) == 4
    assert week.metrics["mae"] == pytest.approx(17.5)
    assert week.metrics["too_optimistic_share"] == pytest.approx(0.25)
    assert week.metrics["too_conservative_share"] == pytest.approx(0.25)
    assert stuck.accuracy[-1].metrics["precision_at_budget"] == pytest.approx(1.0)
    assert stuck.accuracy[-1].metrics["recall_at_budget"] == pytest.approx(0.5)
    assert journey.retrains == {"runs": 1, "succeeded": 1, "failed": 0}
    assert [(d["version"], d["decision"]) for d in journey.gate_decisions] == [(2, "reject")]
    assert journey.data_quality["status"] == "breach" and journey.data_quality["features"] == ["distance"]
    assert journey.incidents == [42] and stuck.incidents == []


def test_a_past_week_is_reproducible_after_later_outcomes_arrive(fixed_week):
    _, _, late = fixed_week
    before = weekly_services.weekly_report_build(week_start=date(2013, 2, 4)).as_dict()
    PredictionLog.objects.filter(pk=late.pk).update(actual=7, actual_at=MONDAY + timedelta(days=20))
    after = weekly_services.weekly_report_build(week_start=date(2013, 2, 4)).as_dict()
    assert after == before
    # The next week's report sees the outcome that arrived in it.
    next_week = weekly_services.weekly_report_build(week_start=date(2013, 2, 11))
    assert next(m for m in next_week.models if m.model == "journey-time").accuracy[-2].labelled == 4


def test_subscribers_get_the_report_by_email_and_it_shows_on_a_page(
    fixed_week, make_user, client, django_capture_on_commit_callbacks
):
    reader = make_user("manager", email="reader@example.com")
    weekly_services.weekly_report_subscribe(user=reader)
    make_user("manager", email="not-subscribed@example.com")

    with django_capture_on_commit_callbacks(execute=True):
        sent = weekly_services.weekly_report_send(week_start=date(2013, 2, 4))

    assert sent.recipients == 1 and sent.deliveries >= 1
    assert Delivery.objects.filter(recipient=reader).exists()
    email = next(m for m in mail.outbox if "reader@example.com" in m.to)
    assert "Weekly model report 2013-02-04" in email.subject and "MAE" in email.alternatives[0][0]
    again = weekly_services.weekly_report_send(week_start=date(2013, 2, 4))
    assert again.deliveries == 0  # once per person and week

    client.force_login(reader)
    page = client.get("/models/weekly-report/?week=2013-02-04").content.decode()
    assert "journey-time" in page and "17.50" in page and "distance" in page
    api = client.get("/api/v1/model-reports/weekly?week=2013-02-04").json()
    assert api["week_start"] == "2013-02-04" and len(api["models"]) == 2
