"""Shadow challengers (issue #14): a version that scores the live requests after the champion has answered.

The champion's answer never waits for the shadow: serving hands the request's feature arrays to a
one-thread pool once its own log rows are written, and the thread scores them with the shadow
version and logs the scores apart (`ShadowPredictionLog`, same request ids). When actuals arrive
the two are compared on exactly the same rows, and the gate can judge on that live comparison as
well as on the offline holdout.
"""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

import numpy as np
from django.conf import settings
from django.db import transaction

from core.exceptions import InvalidInput

from ..choices import GateOutcome, VersionAlias, VersionStatus
from ..exceptions import NoChampion
from ..gate import GateThresholds, gate_decide
from ..models import GateDecision, ModelVersion, PredictionLog, RegisteredModel, ShadowPredictionLog
from ..pipelines import get_pipeline
from .monitors.signals import json_safe
from .registry import champion_replace
from .serving import fitted_model_for

logger = logging.getLogger(__name__)

@dataclass(frozen=True, slots=True, kw_only=True)
class ShadowComparison:
    champion: ModelVersion | None
    shadow: ModelVersion | None
    logged: int  # shadow predictions logged
    compared: int  # rows with the champion's prediction, the shadow's and the actual
    champion_metrics: dict[str, float]
    shadow_metrics: dict[str, float]


def shadow_set(*, model: RegisteredModel, version: ModelVersion | None) -> RegisteredModel:
    """Put a registered non-champion version of `model` in shadow (None: stop shadowing)."""
    if version is not None:
        if version.model_id != model.pk:
            raise InvalidInput(f"v{version.version} is not a version of {model.name!r}", field="version")
        if version.alias == VersionAlias.CHAMPION:
            raise InvalidInput(f"v{version.version} is the champion; only a challenger can run in shadow",
                               field="version")
    RegisteredModel.objects.filter(pk=model.pk).update(shadow=version)
    model.shadow = version
    return model


def shadow_comparison(*, model: RegisteredModel, version: ModelVersion | None = None) -> ShadowComparison:
    """Champion vs shadow on the same live rows: those with both predictions and an actual."""
    version = version or model.shadow
    champion = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
    if version is None:
        return ShadowComparison(champion=champion, shadow=None, logged=0, compared=0, champion_metrics={},
                                shadow_metrics={})
    shadow_rows = dict(ShadowPredictionLog.objects.filter(version=version).values_list("request_id", "prediction"))
    served = list(
        PredictionLog.objects.filter(model=model, request_id__in=list(shadow_rows), actual__isnull=False)
        .exclude(version=version).values_list("request_id", "prediction", "actual")
    ) if shadow_rows else []
    pipeline = get_pipeline(model.pipeline)
    if not served:
        return ShadowComparison(champion=champion, shadow=version, logged=len(shadow_rows), compared=0,
                                champion_metrics={}, shadow_metrics={})
    actual = np.array([row[2] for row in served], dtype=np.float64)
    champion_metrics = pipeline.evaluate(target=actual, predicted=np.array([row[1] for row in served]))
    shadow_metrics = pipeline.evaluate(target=actual, predicted=np.array([shadow_rows[row[0]] for row in served]))
    return ShadowComparison(champion=champion, shadow=version, logged=len(shadow_rows), compared=len(served),
                            champion_metrics=champion_metrics, shadow_metrics=shadow_metrics)


def shadow_gate(*, model: RegisteredModel, decided_by: str) -> GateDecision:
    """Judge the shadow version: offline on its holdout (champion re-scored there) and live on the same rows."""
    shadow = model.shadow
    if shadow is None:
        raise NoChampion(f"model {model.name!r} has no version in shadow")
    champion = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
    pipeline = get_pipeline(model.pipeline)
    holdout = pipeline.load(start=shadow.holdout_start, end=shadow.holdout_end).frame
    features = pipeline.build_features(holdout)
    target = holdout["target"].to_numpy(dtype=np.float64)
    offline = pipeline.evaluate(target=target, predicted=pipeline.predict(fitted_model_for(version=shadow), features))
    champion_offline = (
        pipeline.evaluate(target=target, predicted=pipeline.predict(fitted_model_for(version=champion), features))
        if champion is not None else None
    )
    live = shadow_comparison(model=model, version=shadow)
    notes = []
    live_metrics = None
    if live.compared >= settings.MODEL_SHADOW_MIN_LIVE_ROWS and champion is not None:
        live_metrics = {"challenger": live.shadow_metrics, "champion": live.champion_metrics, "n": live.compared}
    else:
        need = settings.MODEL_SHADOW_MIN_LIVE_ROWS
        notes.append(f"live comparison: {live.compared} rows with actuals (need {need}); the offline holdout decides")
    thresholds = GateThresholds.from_settings()
    result = gate_decide(task=model.task, challenger=offline, champion=champion_offline, thresholds=thresholds,
                         live=live_metrics)
    reasons = [*notes, *result.reasons]
    with transaction.atomic():
        RegisteredModel.objects.select_for_update().get(pk=model.pk)
        current = ModelVersion.objects.filter(model=model, alias=VersionAlias.CHAMPION).first()
        promote = result.promote and (current.pk if current else None) == (champion.pk if champion else None)
        if promote:
            champion_replace(model=model, new=shadow, old=current, old_status=VersionStatus.RETIRED)
        else:
            ModelVersion.objects.filter(pk=shadow.pk).update(status=VersionStatus.REJECTED)
        RegisteredModel.objects.filter(pk=model.pk).update(shadow=None)
        model.shadow = None
        return GateDecision.objects.create(
            model=model, challenger=shadow, champion=current,
            decision=GateOutcome.PROMOTE if promote else GateOutcome.REJECT, reasons=reasons,
            metrics=json_safe({"challenger": offline, "champion": champion_offline, "live": live_metrics,
                               "thresholds": thresholds.as_dict(), "source": "shadow",
                               "holdout": {"start": shadow.holdout_start.isoformat(),
                                           "end": shadow.holdout_end.isoformat(), "rows": len(holdout)}}),
            decided_by=decided_by,
        )


BACKFILL_MAX_ROWS = 50_000  # a month of a busy model is millions; this already settles the comparison


def shadow_backfill(*, model: RegisteredModel, start: datetime, end: datetime) -> int:
    """Score the shadow on requests already served in [start, end) (their logged records), for a live comparison
    without waiting for new traffic. Rows it already scored are skipped; returns how many it scored."""
    shadow = model.shadow
    if shadow is None:
        raise InvalidInput(f"model {model.name!r} has no version in shadow", field="shadow")
    done = set(ShadowPredictionLog.objects.filter(version=shadow).values_list("request_id", flat=True))
    rows = [
        row for row in PredictionLog.objects.filter(model=model, created_at__gte=start, created_at__lt=end)
        .exclude(version=shadow).order_by("created_at", "id").values_list("request_id", "features", "created_at")
        [:BACKFILL_MAX_ROWS]
        if row[0] not in done
    ]
    if not rows:
        return 0
    pipeline = get_pipeline(model.pipeline)
    frame = pipeline.frame_from_records([row[1] for row in rows])
    started = time.perf_counter()
    scores = pipeline.predict(fitted_model_for(version=shadow), pipeline.feature_columns(frame))
    latency_ms = (time.perf_counter() - started) * 1000.0 / max(len(rows), 1)
    ShadowPredictionLog.objects.bulk_create(
        [ShadowPredictionLog(model=model, version=shadow, request_id=rid, prediction=float(score),
                             latency_ms=latency_ms, created_at=at)
         for (rid, _, at), score in zip(rows, scores.tolist(), strict=False)],
        batch_size=2_000, ignore_conflicts=True,
    )
    return len(rows)
