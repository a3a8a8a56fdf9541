"""Business value of a model's logged predictions, cost per prediction and ROI by month, aggregated in the
database (one aggregate query per month, however many predictions), and the monthly money checks."""
from __future__ import annotations

import statistics
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.conf import settings
from django.db.models import Count, F, Q

from core.models import Service

from ..choices import ModelTask
from ..models import CostEntry, ModelEconomics, PredictionLog, RegisteredModel
from .cost_signals import CostFinding, cost_signal_raise
from .costs import CostOwner, month_add, monthly_costs, months_between

POSITIVE_ACTUAL = 0.5  # classification actuals are 0/1; anything at or above a half counts as positive
SPIKE_HISTORY_MONTHS = 3  # a spike is judged against the median of this many months before it


@dataclass(frozen=True, slots=True, kw_only=True)
class MonthRoi:
    month: datetime
    cost: float
    cost_by_category: dict[str, float]
    predictions: int
    labelled: int
    outcomes: dict[str, int]  # regression: accurate/optimistic/conservative; classification: tp/fp/fn/tn
    value: float

    @property
    def roi(self) -> float | None:
        return roi_of(value=self.value, cost=self.cost)

    @property
    def cost_per_prediction(self) -> float | None:
        return self.cost / self.predictions if self.predictions else None


def roi_of(*, value: float, cost: float) -> float | None:
    """ROI = (value − cost) ÷ cost; undefined (None) without cost."""
    return (value - cost) / cost if cost > 0 else None


def economics_for(*, model: RegisteredModel) -> ModelEconomics:
    """The model's value settings, or unsaved zero defaults (value 0) when none were configured."""
    found = ModelEconomics.objects.filter(model=model).first()
    return found if found is not None else ModelEconomics(model=model)


def _outcome_counts(*, model: RegisteredModel, economics: ModelEconomics) -> dict[str, Count]:
    labelled = Q(actual__isnull=False)
    if model.task == ModelTask.CLASSIFICATION:
        flagged, positive = Q(prediction__gte=economics.threshold), Q(actual__gte=POSITIVE_ACTUAL)
        return {
            "tp": Count("id", filter=labelled & flagged & positive),
            "fp": Count("id", filter=labelled & flagged & ~positive),
            "fn": Count("id", filter=labelled & ~flagged & positive),
            "tn": Count("id", filter=labelled & ~flagged & ~positive),
        }
    tolerance = float(economics.tolerance)
    # error = actual − prediction, as evaluation.regression_metrics: > tolerance means too optimistic.
    return {
        "optimistic": Count("id", filter=labelled & Q(actual__gt=F("prediction") + tolerance)),
        "conservative": Count("id", filter=labelled & Q(actual__lt=F("prediction") - tolerance)),
    }


def outcome_value(*, model: RegisteredModel, economics: ModelEconomics, outcomes: dict[str, int]) -> float:
    if model.task == ModelTask.CLASSIFICATION:
        return float(sum(
            (getattr(economics, f"value_{k}") * outcomes.get(k, 0) for k in ("tp", "fp", "fn", "tn")), Decimal("0")
        ))
    return float(
        economics.value_accurate * outcomes.get("accurate", 0)
        - economics.cost_optimistic * outcomes.get("optimistic", 0)
        - economics.cost_conservative * outcomes.get("conservative", 0)
    )


def prediction_outcomes(
    *, model: RegisteredModel, economics: ModelEconomics, start: datetime | None, end: datetime
) -> tuple[int, int, dict[str, int]]:
    """(predictions, labelled, outcome counts) over [start, end): one aggregate query, no rows in Python."""
    rows = PredictionLog.objects.filter(model=model, created_at__lt=end)
    if start is not None:
        rows = rows.filter(created_at__gte=start)
    counts = _outcome_counts(model=model, economics=economics)
    # Plain range filters on the (model, created_at) index; no per-row date function (SQLite's
    # TruncMonth is a Python callback per row, far too slow for millions of predictions).
    row = rows.order_by().aggregate(n=Count("id"), labelled=Count("actual"), **counts)
    outcomes = {k: int(row[k] or 0) for k in counts}
    labelled = int(row["labelled"] or 0)
    if model.task != ModelTask.CLASSIFICATION:
        outcomes["accurate"] = labelled - outcomes["optimistic"] - outcomes["conservative"]
    return int(row["n"] or 0), labelled, outcomes


def model_roi_by_month(*, model: RegisteredModel, start: datetime, end: datetime,
                       economics: ModelEconomics | None = None) -> list[MonthRoi]:
    """Every month of [start, end) (whole months) with cost or predictions: one query per month."""
    economics = economics or economics_for(model=model)
    costs = monthly_costs(owner=CostOwner(model=model), start=start, end=end)
    months = []
    for month in months_between(start, end):
        n, labelled, outcomes = prediction_outcomes(
            model=model, economics=economics, start=max(month, start), end=min(month_add(month, 1), end)
        )
        if not n and month not in costs:
            continue
        by_category = {k: round(v, 2) for k, v in sorted(costs.get(month, {}).items())}
        months.append(MonthRoi(
            month=month, cost=round(sum(by_category.values()), 2), cost_by_category=by_category, predictions=n,
            labelled=labelled, outcomes=outcomes,
            value=round(outcome_value(model=model, economics=economics, outcomes=outcomes), 2),
        ))
    return months


def model_value_and_cost_before(*, model: RegisteredModel, economics: ModelEconomics,
                                before: datetime) -> tuple[float, float]:
    """Value and cost of everything before `before` (for ROI to date)."""
    _, _, outcomes = prediction_outcomes(model=model, economics=economics, start=None, end=before)
    first = _first_cost(model=model)
    cost = 0.0
    if first is not None and first < before:
        costs = monthly_costs(owner=CostOwner(model=model), start=first, end=before)
        cost = sum(sum(c.values()) for c in costs.values())
    return outcome_value(model=model, economics=economics, outcomes=outcomes), cost


def _first_cost(*, model: RegisteredModel) -> datetime | None:
    return CostEntry.objects.filter(model=model).order_by("period_start").values_list("period_start", flat=True).first()


# --- monthly checks ------------------------------------------------------------------------------


def _roi_href() -> str:
    return "/models/roi/"


def roi_targets_check(*, month: datetime) -> list[CostFinding]:
    """A model whose ROI for `month` is under its target raises a Level 3 signal."""
    findings = []
    for economics in ModelEconomics.objects.select_related("model__service"):
        model = economics.model
        rows = model_roi_by_month(model=model, start=month, end=month_add(month, 1), economics=economics)
        if not rows or rows[0].roi is None or rows[0].roi >= economics.roi_target:
            continue
        row = rows[0]
        findings.append(cost_signal_raise(
            kind="roi_below_target", owner=f"model {model.name}", service=model.service,
            title=f"Model {model.name}: ROI {row.roi:.0%} in {month:%Y-%m} under its target {economics.roi_target:.0%}",
            details=f"value {row.value:.2f} vs cost {row.cost:.2f} {settings.COST_CURRENCY} "
                    f"over {row.predictions} predictions ({row.labelled} with actuals)",
            labels={"model": model.name}, href=_roi_href(),
            payload={"month": f"{month:%Y-%m}", "roi": row.roi, "target": economics.roi_target,
                     "value": row.value, "cost": row.cost},
        ))
    return findings


def _owners() -> list[tuple[CostOwner, Service | None]]:
    model_ids = CostEntry.objects.filter(model__isnull=False).values_list("model_id", flat=True).distinct()
    service_ids = CostEntry.objects.filter(service__isnull=False).values_list("service_id", flat=True).distinct()
    registered = RegisteredModel.objects.filter(pk__in=model_ids).select_related("service")
    owners: list[tuple[CostOwner, Service | None]] = [(CostOwner(model=m), m.service) for m in registered]
    owners += [(CostOwner(service=s), s) for s in Service.objects.filter(pk__in=service_ids)]
    return owners


def cost_spikes_check(*, month: datetime) -> list[CostFinding]:
    """A month costing over COST_SPIKE_FACTOR x the median of the months before it raises a Level 3 signal."""
    factor = float(settings.COST_SPIKE_FACTOR)
    findings = []
    for owner, service in _owners():
        history_start = month_add(month, -SPIKE_HISTORY_MONTHS)
        costs = monthly_costs(owner=owner, start=history_start, end=month_add(month, 1))
        current = sum(costs.get(month, {}).values())
        before = [sum(costs.get(month_add(history_start, i), {}).values()) for i in range(SPIKE_HISTORY_MONTHS)]
        before = [b for b in before if b > 0]
        if not before or current <= factor * statistics.median(before):
            continue
        baseline = statistics.median(before)
        name = owner.model.name if owner.model else str(owner.service)
        findings.append(cost_signal_raise(
            kind="cost_spike", owner=owner.label, service=service,
            title=f"Cost spike on {owner.label}: {current:.2f} {settings.COST_CURRENCY} in {month:%Y-%m} "
                  f"({current / baseline:.1f}x the usual {baseline:.2f})",
            details=f"threshold {factor}x the median of the {len(before)} month(s) before",
            labels={"model" if owner.model else "service": name}, href=_roi_href(),
            payload={"month": f"{month:%Y-%m}", "cost": round(current, 2), "baseline": round(baseline, 2),
                     "factor": factor},
        ))
    return findings

