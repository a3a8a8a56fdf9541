"""The daily at-risk list (issue #14): entries of an open-journeys job, "handled" marks, late outcomes, precision."""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from core.exceptions import InvalidInput

from ..models import AtRiskEntry, BatchScoringJob, JourneyHandled, ModelVersion
from ..pipelines.flights import LOCAL_TZ

MAX_ACTUALS = 10_000  # outcomes per request, as for prediction actuals


@dataclass(frozen=True, slots=True, kw_only=True)
class OpenJourneysScored:
    """What an open-journeys job scored, handed to the list: raw rows, keys, stuck scores, forecasts, reasons."""

    raw: pd.DataFrame
    keys: np.ndarray
    scores: np.ndarray
    scored_at: datetime
    forecast_version: ModelVersion | None
    forecast: np.ndarray | None
    interval: tuple[float, float] | None
    top_features: dict[int, list[dict[str, Any]]]


def at_risk_entries_store(*, job: BatchScoringJob, version: ModelVersion, scored: OpenJourneysScored) -> int:
    """One entry per open journey, ranked by stuck probability (ties: earlier departure first)."""
    departures = pd.to_datetime(scored.raw["scheduled_departure"])
    order = np.lexsort((departures.to_numpy(), -scored.scores))
    entries = []
    for rank, position in enumerate(order, start=1):
        forecast = float(scored.forecast[position]) if scored.forecast is not None else None
        low = high = None
        if forecast is not None and scored.interval is not None:
            low, high = forecast + scored.interval[0], forecast + scored.interval[1]
        departure = departures.iloc[position].to_pydatetime()
        entries.append(AtRiskEntry(
            job=job, version=version, forecast_version=scored.forecast_version, journey_key=str(scored.keys[position]),
            rank=rank, origin=str(scored.raw["origin"].iloc[position]),
            carrier=str(scored.raw["carrier"].iloc[position]), dest=str(scored.raw["dest"].iloc[position]),
            scheduled_departure=departure.replace(tzinfo=LOCAL_TZ) if departure.tzinfo is None else departure,
            stuck_probability=float(scored.scores[position]), forecast_minutes=forecast, forecast_low=low,
            forecast_high=high, top_features=scored.top_features.get(int(position), []), scored_at=scored.scored_at,
        ))
    AtRiskEntry.objects.bulk_create(entries, batch_size=2_000)
    return len(entries)


def journey_handle(
    *, journey_key: str, user: User | None, note: str = "", handled: bool = True
) -> JourneyHandled | None:
    """Mark a journey handled (who, when), or clear the mark; the mark carries over to later lists."""
    if not AtRiskEntry.objects.filter(journey_key=journey_key).exists():
        raise InvalidInput(f"no journey {journey_key!r} in any at-risk list", field="journey_key")
    if not handled:
        JourneyHandled.objects.filter(journey_key=journey_key).delete()
        return None
    mark, _ = JourneyHandled.objects.update_or_create(
        journey_key=journey_key, defaults={"handled_by": user, "handled_at": timezone.now(), "note": note[:500]}
    )
    return mark


@transaction.atomic
def at_risk_actuals_attach(*, actuals: Any, at: datetime | None = None) -> int:
    """Outcomes by journey key (1 stuck / 0 not); an unknown key rejects the batch, nothing stored."""
    if not isinstance(actuals, list) or not actuals:
        raise InvalidInput("actuals must be a non-empty list of {journey_key, actual}", field="actuals")
    if len(actuals) > MAX_ACTUALS:
        raise InvalidInput(f"at most {MAX_ACTUALS} actuals per request", field="actuals")
    values: dict[str, float] = {}
    for index, item in enumerate(actuals):
        key = item.get("journey_key") if isinstance(item, dict) else None
        value = item.get("actual") if isinstance(item, dict) else None
        if not isinstance(key, str) or not key:
            raise InvalidInput(f"actual {index}: missing journey_key", field=f"actuals[{index}].journey_key")
        if isinstance(value, bool):
            value = float(value)
        if not isinstance(value, (int, float)) or value not in (0, 1) or math.isnan(value):
            raise InvalidInput(f"actual {index}: must be 0 or 1 (or true/false)", field=f"actuals[{index}].actual")
        values[key] = float(value)
    known = set(AtRiskEntry.objects.filter(journey_key__in=list(values)).values_list("journey_key", flat=True))
    unknown = sorted(set(values) - known)
    if unknown:
        raise InvalidInput(f"{len(unknown)} unknown journey key(s): {', '.join(unknown[:20])}; nothing stored",
                           field="actuals")
    moment = at or timezone.now()
    stored = 0
    for key, value in values.items():
        stored += AtRiskEntry.objects.filter(journey_key=key).update(actual=value, actual_at=moment)
    return stored


@dataclass(frozen=True, slots=True, kw_only=True)
class ListPrecision:
    lists: int
    labelled: int  # top-capacity entries with an outcome
    hits: int
    precision: float | None
    per_list: list[dict[str, Any]]


def at_risk_precision(
    *, version: ModelVersion, period_start: datetime, period_end: datetime, capacity: int
) -> ListPrecision:
    """Precision of the top `capacity` of each list drawn (as of) in the period, over the entries with an outcome."""
    per_list = []
    labelled = hits = 0
    jobs = BatchScoringJob.objects.filter(
        at_risk__version=version, as_of__gte=period_start, as_of__lt=period_end
    ).distinct().order_by("as_of", "pk")
    for job in jobs:
        top = list(AtRiskEntry.objects.filter(job=job, rank__lte=capacity).values_list("actual", flat=True))
        known = [a for a in top if a is not None]
        if not known:
            continue
        labelled += len(known)
        hits += int(sum(1 for a in known if a >= 0.5))
        per_list.append({"job": job.pk, "as_of": job.as_of.isoformat() if job.as_of else None,
                         "labelled": len(known), "precision": sum(1 for a in known if a >= 0.5) / len(known)})
    return ListPrecision(lists=len(per_list), labelled=labelled, hits=hits,
                         precision=(hits / labelled) if labelled else None, per_list=per_list)


def previous_list_keys(*, job: BatchScoringJob) -> set[str] | None:
    """Journey keys of the list before `job` for the same model (None: this is the first list)."""
    previous = (
        BatchScoringJob.objects.filter(model=job.model, source=job.source, status=job.status, pk__lt=job.pk)
        .order_by("-pk").first()
    )
    if previous is None:
        return None
    return set(AtRiskEntry.objects.filter(job=previous).values_list("journey_key", flat=True))
