"""Weekly KPI report: this week against the one before (incidents, response times, cost, reviews, actions)."""
from __future__ import annotations

from django.db.models import Q, Sum

from incidents.choices import ActionItemStatus, Severity
from incidents.models import ActionItem, Incident, IncidentCost, PostIncidentReview
from incidents.selectors import noise_reduction_report
from incidents.services.costs import currency

from .base import Chart, Figure, Period, ReportResult, Table, mean, minutes, money, report_register

DEFINITIONS = (
    ("MTTA / MTTR", "Opening to first acknowledgement / to resolution, mean over incidents opened in the week "
                    "(see the operations report for the full definitions)."),
    ("Cost", "Stored cost of the incidents opened in the week (frozen at close)."),
    ("Reviews overdue", "Reviews due before the week's end and not published by then."),
    ("Action items overdue", "Items due before the week's end and not done by then (cancelled items excluded)."),
)


def _kpis(period: Period) -> dict[str, float | int | str | None]:
    opened = Incident.objects.filter(is_drill=False, opened_at__gte=period.start, opened_at__lt=period.end)
    rows = list(opened.order_by().values_list("severity", "opened_at", "acknowledged_at", "resolved_at"))
    end_day = period.end.date()
    noise = noise_reduction_report(since=period.start, until=period.end).total
    values: dict[str, float | int | str | None] = {"opened": len(rows)}
    for level in Severity.values:
        values[f"opened_l{level}"] = sum(1 for r in rows if r[0] == level)
    values["resolved"] = Incident.objects.filter(is_drill=False, resolved_at__gte=period.start,
                                                 resolved_at__lt=period.end).count()
    values["mtta_minutes"] = minutes(mean([a - o for _, o, a, _ in rows if a]))
    values["mttr_minutes"] = minutes(mean([r - o for _, o, _, r in rows if r]))
    values["cost"] = money(IncidentCost.objects.filter(incident__in=opened).aggregate(s=Sum("total"))["s"])
    values["noise_reduction"] = round(noise.reduction * 100, 1) if noise.signals else None
    values["reviews_published"] = PostIncidentReview.objects.filter(
        published_at__gte=period.start, published_at__lt=period.end).count()
    values["reviews_overdue"] = PostIncidentReview.objects.filter(due_date__lt=end_day).filter(
        Q(published_at__isnull=True) | Q(published_at__gte=period.end)).count()
    values["actions_done"] = ActionItem.objects.filter(completed_at__gte=period.start,
                                                       completed_at__lt=period.end).count()
    values["actions_overdue"] = ActionItem.objects.filter(due_date__lt=end_day).exclude(
        status=ActionItemStatus.CANCELLED).filter(Q(completed_at__isnull=True) | Q(completed_at__gte=period.end)
                                                  ).count()
    return values


LABELS = {
    "opened": "Incidents opened", "opened_l1": "L1 opened", "opened_l2": "L2 opened", "opened_l3": "L3 opened",
    "opened_l4": "L4 opened", "resolved": "Incidents resolved", "mtta_minutes": "MTTA (min)",
    "mttr_minutes": "MTTR (min)", "cost": "Cost", "noise_reduction": "Noise reduction (%)",
    "reviews_published": "Reviews published", "reviews_overdue": "Reviews overdue at week end",
    "actions_done": "Action items done", "actions_overdue": "Action items overdue at week end",
}


def _change(now, before):
    try:
        return round(float(now) - float(before), 2)
    except (TypeError, ValueError):
        return None


@report_register("weekly_kpi", title="Weekly KPI", default_period="week", emailed=True,
                 description="This week against the previous one: incidents, MTTA/MTTR, cost, reviews, actions.")
def compute(*, period: Period) -> ReportResult:
    this = _kpis(period)
    before = _kpis(period.previous())
    rows = tuple((LABELS[key], this[key], before[key], _change(this[key], before[key])) for key in LABELS)
    figures = tuple(Figure(key=key, label=LABELS[key], value=this[key],
                           unit=currency() if key == "cost" else "") for key in LABELS)
    chart_keys = ("opened", "resolved", "reviews_published", "actions_done", "actions_overdue")
    length = period.end - period.start
    return ReportResult(
        name="weekly_kpi", title="Weekly KPI", period=period, figures=figures, definitions=DEFINITIONS,
        currency=currency(),
        tables=(Table(key="kpis", title="KPIs",
                      columns=("KPI", period.label, f"previous {length.days} days", "change"), rows=rows),),
        charts=(Chart(key="kpis", title="This period against the previous one", kind="bar",
                      labels=tuple(LABELS[k] for k in chart_keys),
                      series=((period.label, tuple(float(this[k] or 0) for k in chart_keys)),
                              ("previous", tuple(float(before[k] or 0) for k in chart_keys)))),),
    )


