"""The monthly ROI report per model: cost by category, cost per prediction, value, ROI vs target and the
cost forecast vs budget; `roi_report` is wrapped as report `roi` by the reports framework (aiops/reports).

The report covers whole calendar months: [start, end) is widened to month boundaries. Predictions and
value are aggregated in the database (one aggregate query per model and month), so a year of millions of logged
predictions takes seconds.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from django.conf import settings

from core.exceptions import InvalidInput
from core.models import Service

from .choices import CostCategory
from .models import CostEntry, RegisteredModel
from .services.costs import CostOwner, month_add, month_start, monthly_costs
from .services.forecasts import cost_forecast
from .services.roi import MonthRoi, economics_for, model_roi_by_month, model_value_and_cost_before, roi_of


def _r(value: float | None, digits: int = 2) -> float | None:
    return None if value is None else round(value, digits)


@dataclass(frozen=True, slots=True, kw_only=True)
class ModelRoiRow:
    model: str
    task: str
    service: str | None
    cost_by_category: dict[str, float]
    cost: float
    predictions: int
    labelled: int
    cost_per_prediction: float | None
    value: float
    roi: float | None
    roi_target: float
    roi_to_date: float | None
    months: tuple[MonthRoi, ...]
    forecast: dict[str, Any]

    @property
    def target_met(self) -> bool | None:
        return None if self.roi is None else self.roi >= self.roi_target

    def as_dict(self) -> dict[str, Any]:
        return {
            "model": self.model, "task": self.task, "service": self.service,
            "cost_by_category": self.cost_by_category, "cost": self.cost, "predictions": self.predictions,
            "labelled": self.labelled, "cost_per_prediction": _r(self.cost_per_prediction, 6),
            "value": self.value, "roi": _r(self.roi, 4), "roi_target": self.roi_target,
            "target_met": self.target_met, "roi_to_date": _r(self.roi_to_date, 4),
            "months": [
                {"month": f"{m.month:%Y-%m}", "cost": m.cost, "value": m.value, "roi": _r(m.roi, 4),
                 "predictions": m.predictions, "labelled": m.labelled,
                 "cost_per_prediction": _r(m.cost_per_prediction, 6), "outcomes": m.outcomes}
                for m in self.months
            ],
            "forecast": self.forecast,
        }


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceCostRow:
    service: str
    cost_by_category: dict[str, float]
    cost: float
    forecast: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        return {"service": self.service, "cost_by_category": self.cost_by_category, "cost": self.cost,
                "forecast": self.forecast}


@dataclass(frozen=True, slots=True, kw_only=True)
class RoiReport:
    start: datetime
    end: datetime
    currency: str
    models: tuple[ModelRoiRow, ...]
    services: tuple[ServiceCostRow, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "report": "roi", "start": self.start.isoformat(), "end": self.end.isoformat(), "currency": self.currency,
            "categories": list(CostCategory.values),
            "models": [m.as_dict() for m in self.models], "services": [s.as_dict() for s in self.services],
        }

    def csv_rows(self) -> list[list[str]]:
        """One row per model and month of the period, then its period total (month "total")."""
        categories = list(CostCategory.values)
        header = ["model", "month", "predictions", "labelled", *categories, "cost", "cost_per_prediction",
                  "value", "roi", "roi_target", "roi_to_date", "forecast_method", "budget", "forecast_breach_month"]
        rows = [header]

        def fmt(value: Any) -> str:
            return "" if value is None else str(value)

        for model in self.models:
            tail = [fmt(model.roi_target), fmt(_r(model.roi_to_date, 4)), model.forecast.get("method", ""),
                    fmt(model.forecast.get("budget")), fmt(model.forecast.get("breach_month"))]
            for m in model.months:
                rows.append([model.model, f"{m.month:%Y-%m}", str(m.predictions), str(m.labelled),
                             *[fmt(m.cost_by_category.get(c, 0.0)) for c in categories], fmt(m.cost),
                             fmt(_r(m.cost_per_prediction, 6)), fmt(m.value), fmt(_r(m.roi, 4)), *tail])
            rows.append([model.model, "total", str(model.predictions), str(model.labelled),
                         *[fmt(model.cost_by_category.get(c, 0.0)) for c in categories], fmt(model.cost),
                         fmt(_r(model.cost_per_prediction, 6)), fmt(model.value), fmt(_r(model.roi, 4)), *tail])
        return rows


def _as_moment(value: date | datetime, *, field: str) -> datetime:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, date):
        return datetime.combine(value, time.min, tzinfo=UTC)
    raise InvalidInput(f"{field} must be a date.", field=field)


def report_bounds(*, start: date | datetime, end: date | datetime) -> tuple[datetime, datetime]:
    """[start, end) widened to whole months; InvalidInput if empty or over ten years."""
    lo, hi = _as_moment(start, field="start"), _as_moment(end, field="end")
    if hi <= lo:
        raise InvalidInput("end must be after start.", field="end")
    if hi - lo > timedelta(days=3660):
        raise InvalidInput("A report covers at most ten years.", field="end")
    lo = month_start(lo)
    hi = hi if month_start(hi) == hi else month_add(month_start(hi), 1)
    return lo, hi


def _sum_categories(months: list[MonthRoi]) -> dict[str, float]:
    totals: dict[str, float] = {}
    for m in months:
        for category, amount in m.cost_by_category.items():
            totals[category] = totals.get(category, 0.0) + amount
    return {k: round(v, 2) for k, v in sorted(totals.items())}


def _model_row(*, model: RegisteredModel, start: datetime, end: datetime) -> ModelRoiRow:
    economics = economics_for(model=model)
    months = model_roi_by_month(model=model, start=start, end=end, economics=economics)
    value_before, cost_before = model_value_and_cost_before(model=model, economics=economics, before=start)
    cost = round(sum(m.cost for m in months), 2)
    value = round(sum(m.value for m in months), 2)
    predictions = sum(m.predictions for m in months)
    return ModelRoiRow(
        model=model.name, task=model.task, service=model.service.name if model.service else None,
        cost_by_category=_sum_categories(months), cost=cost, predictions=predictions,
        labelled=sum(m.labelled for m in months), cost_per_prediction=cost / predictions if predictions else None,
        value=value, roi=roi_of(value=value, cost=cost), roi_target=economics.roi_target,
        roi_to_date=roi_of(value=value + value_before, cost=cost + cost_before),
        months=tuple(months), forecast=cost_forecast(owner=CostOwner(model=model), as_of=end).as_dict(),
    )


def roi_report(*, start: date | datetime, end: date | datetime) -> RoiReport:
    """The ROI report for the months of [start, end): every registered model, and every service with costs."""
    lo, hi = report_bounds(start=start, end=end)
    registered = RegisteredModel.objects.select_related("service").order_by("name")
    models = tuple(_model_row(model=m, start=lo, end=hi) for m in registered)
    service_ids = CostEntry.objects.filter(service__isnull=False).values_list("service_id", flat=True).distinct()
    services = []
    for service in Service.objects.filter(pk__in=service_ids).order_by("name"):
        owner = CostOwner(service=service)
        costs = monthly_costs(owner=owner, start=lo, end=hi)
        totals: dict[str, float] = {}
        for per_category in costs.values():
            for category, amount in per_category.items():
                totals[category] = totals.get(category, 0.0) + amount
        services.append(ServiceCostRow(
            service=service.name, cost_by_category={k: round(v, 2) for k, v in sorted(totals.items())},
            cost=round(sum(totals.values()), 2), forecast=cost_forecast(owner=owner, as_of=hi).as_dict(),
        ))
    return RoiReport(start=lo, end=hi, currency=str(settings.COST_CURRENCY), models=models, services=tuple(services))
