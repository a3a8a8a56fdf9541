"""Daily business impact: what incidents cost the business in a period, by service and by incident."""
from __future__ import annotations

from collections import defaultdict
from decimal import Decimal

from django.db.models import Q, Sum

from incidents.models import Incident, IncidentCost, PostIncidentReview
from incidents.services.costs import currency

from .base import Chart, Figure, Period, ReportResult, Table, money, report_register

TOP_INCIDENTS = 10  # the costliest incidents listed

DEFINITIONS = (
    ("Cost", "An incident's stored cost (downtime × services' cost per minute from when each joined, responders' "
             "engaged time × hourly rate × role weight, review time, manual lines), counted in the period the "
             "incident opened in; frozen at close, recomputed while open."),
    ("Impact minutes", "Minutes of each incident's impact (opening to resolution, or the review's impact "
                       "window) that fall inside the period, per incident's service."),
    ("Users / orders affected", "As recorded in the reviews of the incidents opened in the period."),
)


@report_register("business_impact", title="Business impact", default_period="day", emailed=True,
                 description="Cost of incidents, impact minutes, users and orders affected (daily e-mail).")
def compute(*, period: Period) -> ReportResult:
    opened = Incident.objects.filter(is_drill=False, opened_at__gte=period.start, opened_at__lt=period.end)
    costs = IncidentCost.objects.filter(incident__in=opened)
    sums = costs.aggregate(total=Sum("total"), downtime=Sum("downtime"), response=Sum("response"),
                           review=Sum("review"), manual=Sum("manual"))
    reviews = PostIncidentReview.objects.filter(incident__in=opened).aggregate(
        users=Sum("users_affected"), orders=Sum("orders_affected"))

    # Impact minutes inside the period, for every incident active in it (opened before its end, not
    # resolved before its start); the review's window replaces opening/resolution when recorded.
    active = (Incident.objects.filter(is_drill=False, opened_at__lt=period.end)
              .filter(Q(resolved_at__isnull=True) | Q(resolved_at__gt=period.start))
              .order_by().values_list("pk", "service__name", "opened_at", "resolved_at", "review__impact_start",
                                      "review__impact_end"))
    service_minutes: dict[str, float] = defaultdict(float)
    service_incidents: dict[str, int] = defaultdict(int)
    for _, service, opened_at, resolved_at, impact_start, impact_end in active:
        start = max(impact_start or opened_at, period.start)
        end = min(impact_end or resolved_at or period.end, period.end)
        service_incidents[service] += 1
        if end > start:
            service_minutes[service] += (end - start).total_seconds() / 60
    service_cost = dict(costs.order_by().values_list("incident__service__name").annotate(s=Sum("total")))
    services = sorted(set(service_minutes) | set(service_cost),
                      key=lambda name: (-(service_cost.get(name) or Decimal(0)), name))
    top = (costs.select_related("incident__service").order_by("-total", "incident_id")[:TOP_INCIDENTS])
    figures = (
        Figure(key="incidents_opened", label="Incidents opened", value=opened.count()),
        Figure(key="incidents_active", label="Incidents active", value=len(active)),
        Figure(key="cost_total", label="Cost of incidents opened", value=money(sums["total"]), unit=currency()),
        Figure(key="cost_downtime", label="Downtime cost", value=money(sums["downtime"]), unit=currency()),
        Figure(key="cost_response", label="Response cost", value=money(sums["response"]), unit=currency()),
        Figure(key="cost_review", label="Review cost", value=money(sums["review"]), unit=currency()),
        Figure(key="cost_manual", label="Manual cost lines", value=money(sums["manual"]), unit=currency()),
        Figure(key="impact_minutes", label="Impact minutes", value=round(sum(service_minutes.values()), 1),
               unit="min"),
        Figure(key="users_affected", label="Users affected", value=reviews["users"] or 0),
        Figure(key="orders_affected", label="Orders affected", value=reviews["orders"] or 0),
    )
    return ReportResult(
        name="business_impact", title="Business impact", period=period, figures=figures, definitions=DEFINITIONS,
        currency=currency(),
        tables=(
            Table(key="services", title="By service",
                  columns=("service", "incidents active", "impact minutes", f"cost ({currency()})"),
                  rows=tuple((name, service_incidents.get(name, 0), round(service_minutes.get(name, 0.0), 1),
                              money(service_cost.get(name))) for name in services)),
            Table(key="incidents", title="Costliest incidents",
                  columns=("incident", "level", "title", "service", "opened", f"cost ({currency()})", "frozen"),
                  rows=tuple((c.incident_id, c.incident.severity, c.incident.title, c.incident.service.name,
                              c.incident.opened_at.isoformat(), money(c.total), c.frozen_at is not None)
                             for c in top)),
        ),
        charts=(
            Chart(key="cost_by_service", title=f"Cost by service ({currency()})", kind="bar",
                  labels=tuple(services),
                  series=(("cost", tuple(float(service_cost.get(name) or 0) for name in services)),)),
        ),
    )
