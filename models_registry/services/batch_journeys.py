"""Batch scoring of the open journeys (the at-risk list's job, issue #14): every journey departing within
AT_RISK_HORIZON_HOURS scored with the stuck-journey champion, with the journey-time forecast and its interval,
and the features that pushed the riskiest ones up. `batch.batch_job_execute` runs it for open-journeys jobs."""
from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.utils import timezone

from core.exceptions import InvalidInput

from .. import selectors
from ..choices import ModelTask
from ..models import BatchScoringJob, ModelVersion, RegisteredModel
from ..pipelines import FittedModel, Pipeline, get_pipeline
from .at_risk import OpenJourneysScored
from .serving import fitted_model_for


def journey_keys(raw: pd.DataFrame) -> np.ndarray:
    flight = raw["flight"].astype(str) if "flight" in raw.columns else pd.Series([""] * len(raw), index=raw.index)
    stamp = pd.to_datetime(raw["scheduled_departure"]).dt.strftime("%Y%m%d%H%M")
    return (raw["carrier"].astype(str) + flight + "-" + raw["origin"].astype(str) + "-" + raw["dest"].astype(str)
            + "-" + stamp).to_numpy(dtype=object)


def score_open_journeys(*, job: BatchScoringJob, champion: ModelVersion, tmp: Path):
    model = job.model
    pipeline = get_pipeline(model.pipeline)
    as_of = job.as_of or timezone.now()
    frame = pipeline.load(start=as_of, end=as_of + timedelta(hours=settings.AT_RISK_HORIZON_HOURS)).frame
    BatchScoringJob.objects.filter(pk=job.pk).update(rows_total=len(frame))
    if frame.empty:
        raise InvalidInput(f"no open journeys between {as_of:%Y-%m-%d %H:%M} and the next "
                           f"{settings.AT_RISK_HORIZON_HOURS} h")
    frame = frame.drop_duplicates(subset=None).reset_index(drop=True)
    keys = journey_keys(frame)
    unique = ~pd.Series(keys).duplicated().to_numpy()
    frame, keys = frame[unique].reset_index(drop=True), keys[unique]
    fitted = fitted_model_for(version=champion)
    scores = pipeline.predict(fitted, pipeline.feature_columns(frame))
    forecast_version, forecast, interval = _forecast(frame=frame)
    top: dict[int, list[dict[str, Any]]] = {}
    if model.task == ModelTask.CLASSIFICATION:
        order = np.argsort(-scores, kind="stable")[: settings.AT_RISK_EXPLAIN_TOP]
        top = top_contributions(pipeline=pipeline, fitted=fitted, raw=frame.iloc[order].reset_index(drop=True),
                                positions=order)
    rows = pd.DataFrame({"journey_id": keys, "prediction": scores})
    rows["model"] = model.name
    rows["version"] = champion.version
    if forecast is not None:
        rows["forecast_minutes"] = forecast
    pq.write_table(pa.Table.from_pandas(rows, preserve_index=False), tmp)
    BatchScoringJob.objects.filter(pk=job.pk).update(rows_done=len(frame), rows_scored=len(frame))
    counts = {"done": len(frame), "scored": len(frame), "bad": [], "bad_count": 0}
    scored = OpenJourneysScored(
        raw=frame, keys=keys, scores=scores, scored_at=timezone.now(), forecast_version=forecast_version,
        forecast=forecast, interval=interval, top_features=top,
    )
    return counts, (scored if model.task == ModelTask.CLASSIFICATION else None)


def _forecast(*, frame: pd.DataFrame) -> tuple[ModelVersion | None, np.ndarray | None, tuple[float, float] | None]:
    """The journey-time champion's forecast and its 80 % interval (holdout error quantiles, else ± MAE)."""
    model = RegisteredModel.objects.filter(name=settings.AT_RISK_FORECAST_MODEL).first()
    champion = selectors.model_champion(model=model) if model is not None else None
    if model is None or champion is None:
        return None, None, None
    pipeline = get_pipeline(model.pipeline)
    forecast = pipeline.predict(fitted_model_for(version=champion), pipeline.feature_columns(frame))
    metrics = champion.metrics or {}
    low, high = metrics.get("error_p10"), metrics.get("error_p90")
    if low is None or high is None:
        mae = float(metrics.get("mae") or 0.0)
        low, high = -mae, mae
    return champion, forecast, (float(low), float(high))


def top_contributions(
    *, pipeline: Pipeline, fitted: FittedModel, raw: pd.DataFrame, positions: np.ndarray, top: int = 3
) -> dict[int, list[dict[str, Any]]]:
    """Per row, the features whose value raises the score most over a typical journey's value.

    Occlusion: each feature in turn is set to the training reference's typical value (median, or
    the most frequent category) and the row rescored; the drop is that feature's contribution.
    """
    if raw.empty:
        return {}
    features = pipeline.feature_columns(raw)
    matrix = pipeline.encode(features, fitted.categories)
    reference = fitted.reference
    if reference is None or reference.empty:
        return {}
    ref_matrix = pipeline.encode(reference, fitted.categories)
    baseline = np.empty(ref_matrix.shape[1])
    for column, name in enumerate(pipeline.features):
        values = ref_matrix[:, column]
        values = values[np.isfinite(values)]
        if not len(values):
            baseline[column] = np.nan
        elif name in pipeline.categorical:
            uniques, counts = np.unique(values, return_counts=True)
            baseline[column] = uniques[np.argmax(counts)]
        else:
            baseline[column] = float(np.median(values))
    n, width = matrix.shape
    stacked = np.repeat(matrix[None, :, :], width + 1, axis=0)  # [original, feature 0 replaced, ...]
    for column in range(width):
        stacked[column + 1, :, column] = baseline[column]
    scores = _matrix_scores(pipeline, fitted, stacked.reshape(-1, width)).reshape(width + 1, n)
    effects = scores[0][None, :] - scores[1:]
    out: dict[int, list[dict[str, Any]]] = {}
    for row in range(n):
        order = np.argsort(-effects[:, row], kind="stable")[:top]
        out[int(positions[row])] = [
            {"feature": pipeline.features[c], "value": _shown(features[pipeline.features[c]][row]),
             "effect": round(float(effects[c, row]), 4)}
            for c in order if effects[c, row] > 0
        ]
    return out


def _matrix_scores(pipeline: Pipeline, fitted: FittedModel, matrix: np.ndarray) -> np.ndarray:
    forest = pipeline.compiled_forest(fitted)
    if forest is not None:
        return forest.scores(matrix)
    return pipeline.estimator_scores(fitted.estimator, matrix)


def _shown(value: Any) -> Any:
    if isinstance(value, (float, np.floating)):
        return None if math.isnan(value) else round(float(value), 2)
    return str(value)
