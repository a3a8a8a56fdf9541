"""Monthly ROI per model: cost by category, cost per prediction, value, ROI against target, forecast against
budget. The figures are `models_registry.reports.roi_report`'s; this module lays them out as a report."""
from __future__ import annotations

from models_registry.choices import CostCategory
from models_registry.reports import roi_report

from .base import Chart, Figure, Period, ReportResult, Table, report_register

DEFINITIONS = (
    ("Cost", "Ledger entries allocated to the model (entered, or imported from a FinOps FOCUS file by its "
             "`model=<name>` tag), spread over the months they cover in proportion to time."),
    ("Cost per prediction", "Allocated cost ÷ predictions logged by the model in the period."),
    ("Value", "Journey time: accurate forecasts × their value − too-optimistic ones × the cost of an inbound "
              "call − too-conservative ones × a lost sale. Stuck journeys: the value matrix per true/false "
              "positive/negative. Only predictions whose actuals arrived count."),
    ("ROI", "(value − cost) ÷ cost, for the period and to date, against the model's target."),
    ("Forecast", "Monthly cost forecast with an 80 % interval (ETS under 24 months of history, ARIMA after); "
                 "a breach month is when the upper bound first crosses the budget."),
)


@report_register("roi", title="Model ROI", default_period="month", emailed=False,
                 description="Per model: cost by category, cost per prediction, value, ROI vs target, forecast "
                             "vs budget.")
def compute(*, period: Period) -> ReportResult:
    report = roi_report(start=period.start, end=period.end)
    models = report.models
    categories = list(CostCategory.values)
    figures = (
        Figure(key="models", label="Models", value=len(models)),
        Figure(key="cost_total", label="Cost", value=round(sum(m.cost for m in models), 2), unit=report.currency),
        Figure(key="value_total", label="Value", value=round(sum(m.value for m in models), 2),
               unit=report.currency),
    )
    summary = Table(
        key="models", title="ROI per model",
        columns=("model", "predictions", "cost", "cost per prediction", "value", "ROI", "target", "ROI to date",
                 "budget", "forecast breach"),
        rows=tuple((m.model, m.predictions, round(m.cost, 2), _round(m.cost_per_prediction, 6), round(m.value, 2),
                    _round(m.roi, 4), m.roi_target, _round(m.roi_to_date, 4), m.forecast.get("budget"),
                    m.forecast.get("breach_month") or "") for m in models),
    )
    by_category = Table(
        key="cost_by_category", title="Cost by category", columns=("model", *categories),
        rows=tuple((m.model, *(round(m.cost_by_category.get(c, 0.0), 2) for c in categories)) for m in models),
    )
    services = Table(
        key="services", title="Service cost", columns=("service", "cost", "budget", "forecast breach"),
        rows=tuple((s.service, round(s.cost, 2), s.forecast.get("budget"), s.forecast.get("breach_month") or "")
                   for s in report.services),
    )
    chart = Chart(key="cost_value", title="Cost and value per model", kind="bar",
                  labels=tuple(m.model for m in models),
                  series=(("cost", tuple(round(m.cost, 2) for m in models)),
                          ("value", tuple(round(m.value, 2) for m in models))))
    return ReportResult(name="roi", title="Model ROI", period=period, figures=figures,
                        tables=(summary, by_category, services), charts=(chart,), definitions=DEFINITIONS,
                        currency=report.currency)


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
