"""Training runs end to end: lineage, the champion/challenger gate on the same holdout, rollback, failures, reaper."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from core.exceptions import InvalidInput
from models_registry.artifacts import file_sha256
from models_registry.choices import GateOutcome, TrainingRunStatus, VersionAlias, VersionStatus
from models_registry.exceptions import NoChampion
from models_registry.models import GateDecision, ModelVersion, TrainingRun
from models_registry.pipelines.flights import JourneyTimePipeline
from models_registry.services import (
    model_rollback,
    training_run_create,
    training_run_execute,
    training_runs_reap,
)

from .conftest import FAST, WEAK


def champion_of(model) -> ModelVersion | None:
    return ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()


def test_first_version_passing_the_bar_becomes_champion_with_its_lineage(journey_model, train, settings):
    outcome = train(journey_model)

    assert outcome.run.status == TrainingRunStatus.SUCCEEDED
    version = outcome.version
    assert champion_of(journey_model) == version
    assert version.status == VersionStatus.CHAMPION and version.version == 1
    assert outcome.decision.decision == GateOutcome.PROMOTE and outcome.decision.champion is None
    assert len(version.data_fingerprint) == 64 and version.train_rows > 1000 and version.holdout_rows > 100
    assert version.holdout_end == datetime(2013, 3, 1, tzinfo=UTC)
    assert version.train_end == version.holdout_start == datetime(2013, 2, 25, tzinfo=UTC)
    assert "carrier" in version.features and "temp" in version.features
    assert version.params["max_iter"] == 25 and version.code_version
    assert {"mae", "too_optimistic_share", "too_conservative_share"} <= set(version.metrics)
    assert file_sha256(settings.ARTIFACT_DIR / version.artifact_path) == version.artifact_sha256
    assert "fitting" in outcome.run.logs and outcome.run.started_at and outcome.run.finished_at


def test_a_better_challenger_is_promoted_and_the_old_champion_retired(journey_model, train):
    weak = train(journey_model, params=WEAK).version
    assert champion_of(journey_model) == weak

    outcome = train(journey_model, params=FAST)

    assert outcome.decision.decision == GateOutcome.PROMOTE
    assert champion_of(journey_model) == outcome.version
    weak.refresh_from_db()
    assert weak.status == VersionStatus.RETIRED and weak.alias == VersionAlias.NONE
    # The champion was re-evaluated on the very same holdout rows.
    compared = outcome.decision.metrics
    assert compared["champion"]["n"] == compared["challenger"]["n"]
    assert compared["challenger"]["mae"] < compared["champion"]["mae"]
    assert any("MAE gain over champion" in reason for reason in outcome.decision.reasons)


def test_a_worse_challenger_is_rejected_and_the_champion_keeps_serving(journey_model, train):
    champion = train(journey_model, params=FAST).version

    outcome = train(journey_model, params=WEAK)

    assert outcome.run.status == TrainingRunStatus.SUCCEEDED
    assert outcome.decision.decision == GateOutcome.REJECT
    assert champion_of(journey_model) == champion
    assert outcome.version.status == VersionStatus.REJECTED and outcome.version.alias == VersionAlias.CHALLENGER
    assert any(reason.startswith("fail: MAE gain") for reason in outcome.decision.reasons)


def test_stuck_journey_model_is_gated_on_recall_and_precision_at_the_alert_budget(stuck_model, train):
    outcome = train(stuck_model)

    assert {"recall_at_budget", "precision_at_budget", "auc"} <= set(outcome.version.metrics)
    assert outcome.version.metrics["alert_budget"] == pytest.approx(0.10)
    assert any("recall at 10% alert budget" in reason for reason in outcome.decision.reasons)


def test_rollback_restores_the_previous_champion_and_is_recorded(journey_model, train):
    first = train(journey_model, params=WEAK).version
    second = train(journey_model, params=FAST).version
    assert champion_of(journey_model) == second

    decision = model_rollback(model=journey_model, decided_by="tester", reason="bad forecasts")

    assert champion_of(journey_model) == first
    second.refresh_from_db()
    assert second.status == VersionStatus.ROLLED_BACK
    assert decision.decision == GateOutcome.ROLLBACK and decision.challenger == first and decision.champion == second
    assert "bad forecasts" in decision.reasons
    # Nothing older to go back to: the rolled-back version is not a candidate either.
    with pytest.raises(NoChampion):
        model_rollback(model=journey_model)


def test_rollback_without_a_previous_champion_is_refused(journey_model, train):
    train(journey_model)
    with pytest.raises(NoChampion):
        model_rollback(model=journey_model)


def test_a_failed_run_never_changes_the_champion(journey_model, train):
    champion = train(journey_model).version

    outcome = train(journey_model, as_of=datetime(2012, 6, 1, tzinfo=UTC))  # before the data set starts

    assert outcome.run.status == TrainingRunStatus.FAILED
    assert "training rows" in outcome.run.error
    assert outcome.version is None and outcome.decision is None
    assert champion_of(journey_model) == champion
    assert ModelVersion.objects.filter(model=journey_model).count() == 1


def test_an_exception_while_fitting_fails_the_run_and_keeps_the_champion(journey_model, train, monkeypatch):
    champion = train(journey_model).version

    def explode(self, **kwargs):
        raise MemoryError("out of memory while fitting")

    monkeypatch.setattr(JourneyTimePipeline, "fit", explode)
    outcome = train(journey_model)

    assert outcome.run.status == TrainingRunStatus.FAILED
    assert "out of memory" in outcome.run.error and outcome.run.finished_at
    assert champion_of(journey_model) == champion
    assert GateDecision.objects.filter(model=journey_model).count() == 1


def test_the_database_allows_one_champion_per_model(journey_model, train):
    first = train(journey_model).version
    second = train(journey_model, params=WEAK).version
    second.alias = VersionAlias.CHAMPION
    with pytest.raises(IntegrityError), transaction.atomic():
        second.save(update_fields=["alias"])
    assert champion_of(journey_model) == first


def test_a_run_is_claimed_once(journey_model, train):
    outcome = train(journey_model)

    again = training_run_execute(run_id=outcome.run.pk)
    assert again.version == outcome.version
    assert ModelVersion.objects.filter(model=journey_model).count() == 1


def test_the_reaper_fails_runs_stuck_past_their_limit(journey_model):
    now = timezone.now()
    stuck = training_run_create(model=journey_model, enqueue=False)
    fresh = training_run_create(model=journey_model, enqueue=False)
    forgotten = training_run_create(model=journey_model, enqueue=False)
    TrainingRun.objects.filter(pk=stuck.pk).update(
        status=TrainingRunStatus.RUNNING, started_at=now - timedelta(seconds=stuck.time_limit_seconds + 600)
    )
    TrainingRun.objects.filter(pk=fresh.pk).update(
        status=TrainingRunStatus.RUNNING, started_at=now - timedelta(seconds=5)
    )
    TrainingRun.objects.filter(pk=forgotten.pk).update(created_at=now - timedelta(days=1))

    assert training_runs_reap(now=now) == 2

    for run in (stuck, fresh, forgotten):
        run.refresh_from_db()
    assert stuck.status == TrainingRunStatus.FAILED and "reaped" in stuck.error
    assert fresh.status == TrainingRunStatus.RUNNING
    assert forgotten.status == TrainingRunStatus.FAILED


def test_a_queued_run_is_trained_by_the_task_after_commit(journey_model, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        run = training_run_create(model=journey_model, as_of=datetime(2013, 3, 1, tzinfo=UTC), params=FAST)
    run.refresh_from_db()
    assert run.status == TrainingRunStatus.SUCCEEDED
    assert champion_of(journey_model).training_run == run


def test_default_as_of_is_capped_at_the_end_of_the_data(journey_model):
    run = training_run_create(model=journey_model, enqueue=False)
    assert run.as_of <= datetime(2014, 1, 1, 6, tzinfo=UTC)


@pytest.mark.parametrize(
    ("case", "params", "field"),
    [
        ("typo_in_a_parameter", {"max_iters": 10}, "params"),
        ("text_for_a_number", {"max_iter": "ten"}, "params.max_iter"),
        ("fractional_window", {"holdout_days": 2.5}, "params.holdout_days"),
    ],
)
def test_bad_training_parameters_are_refused_before_a_run_exists(journey_model, case, params, field):
    with pytest.raises(InvalidInput) as error:
        training_run_create(model=journey_model, params=params, enqueue=False)
    assert error.value.field == field
    assert not TrainingRun.objects.exists()
