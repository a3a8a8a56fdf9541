"""Reliability review: incidents by contributing factor, action-item completion and effectiveness, repeats."""
from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta

from incidents.choices import ActionItemStatus, ContributingFactor, Effectiveness, ReviewStatus
from incidents.models import ActionItem, Alert, PostIncidentReview
from incidents.services.action_items import fingerprint_family

from .base import Chart, Figure, Period, ReportResult, Table, report_register

REPEAT_LOOKBACK = timedelta(days=30)  # an incident repeats one of the month before it

DEFINITIONS = (
    ("By contributing factor", "Reviews of incidents opened in the period, counted once per factor they name "
                               "(an incident with two factors counts in both)."),
    ("Action-item completion", "Items due in the period: done by the due date, done late, still open "
                               "(not done by the period's end); completion = done ÷ all, cancelled excluded."),
    ("Effectiveness", "Items done in the period: held (no recurrence within the watch), recurred (a later "
                      "incident on the same service and fingerprint family, or naming the item's factor), "
                      "still watching."),
    ("Repeat incident", "An incident opened in the period whose service and fingerprint family (alert name, "
                        "else fingerprint without scope and variable tail) appeared on another incident opened "
                        "in the 30 days before it."),
)


def _pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


@report_register("reliability", title="Reliability review", default_period="month",
                 description="Incidents by contributing factor, action-item completion and effectiveness, repeats.")
def compute(*, period: Period) -> ReportResult:
    reviews = list(PostIncidentReview.objects.filter(incident__opened_at__gte=period.start,
                                                     incident__opened_at__lt=period.end)
                   .values_list("contributing_factors", "status"))
    factors: Counter[str] = Counter()
    published_factors: Counter[str] = Counter()
    for raw, status in reviews:
        keys = {str(f.get("category")) for f in raw or [] if isinstance(f, dict)}
        for key in keys:
            factors[key] += 1
            if status == ReviewStatus.PUBLISHED:
                published_factors[key] += 1
    factor_rows = tuple((ContributingFactor(k).label, factors[k], published_factors[k])
                        for k in ContributingFactor.values)

    due = ActionItem.objects.filter(due_date__gte=period.start.date(), due_date__lt=period.end.date()).exclude(
        status=ActionItemStatus.CANCELLED).values_list("due_date", "completed_at")
    on_time = late = still_open = 0
    for due_date, completed_at in due:
        if completed_at is None or completed_at >= period.end:
            still_open += 1
        elif completed_at.date() <= due_date:
            on_time += 1
        else:
            late += 1
    total_due = on_time + late + still_open
    effect = Counter(ActionItem.objects.filter(completed_at__gte=period.start, completed_at__lt=period.end)
                     .values_list("effectiveness", flat=True))

    repeats = _repeats(period)
    figures = (
        Figure(key="reviews", label="Reviews of incidents opened", value=len(reviews)),
        Figure(key="actions_due", label="Action items due", value=total_due),
        Figure(key="completion", label="Action-item completion", value=_pct(on_time + late, total_due), unit="%"),
        Figure(key="held", label="Held", value=effect.get(Effectiveness.HELD, 0)),
        Figure(key="recurred", label="Recurred", value=effect.get(Effectiveness.RECURRED, 0)),
        Figure(key="repeat_incidents", label="Repeat incidents", value=len(repeats)),
    )
    return ReportResult(
        name="reliability", title="Reliability review", period=period, figures=figures, definitions=DEFINITIONS,
        tables=(
            Table(key="factors", title="Incidents by contributing factor",
                  columns=("factor", "incidents", "in published reviews"), rows=factor_rows),
            Table(key="actions", title="Action items due in the period",
                  columns=("done on time", "done late", "still open", "completion %"),
                  rows=((on_time, late, still_open, _pct(on_time + late, total_due)),)),
            Table(key="effectiveness", title="Effectiveness of items done in the period",
                  columns=("held", "recurred", "watching"),
                  rows=((effect.get(Effectiveness.HELD, 0), effect.get(Effectiveness.RECURRED, 0),
                         effect.get(Effectiveness.WATCHING, 0)),)),
            Table(key="repeats", title="Repeat incidents",
                  columns=("incident", "service", "fingerprint family", "repeats incident"), rows=tuple(repeats)),
        ),
        charts=(Chart(key="factors", title="Incidents by contributing factor", kind="bar",
                      labels=tuple(r[0] for r in factor_rows),
                      series=(("incidents", tuple(float(r[1]) for r in factor_rows)),)),),
    )


def _repeats(period: Period) -> list[tuple[int, str, str, int]]:
    """One pass over the alerts of the period and the 30 days before it, in opening order."""
    alerts = (Alert.objects.filter(incident__opened_at__gte=period.start - REPEAT_LOOKBACK,
                                   incident__opened_at__lt=period.end)
              .order_by("incident__opened_at", "incident_id")
              .values_list("incident_id", "incident__opened_at", "service__name", "fingerprint", "labels"))
    last_seen: dict[tuple[str, str], tuple[int, datetime]] = {}
    found: dict[int, tuple[int, str, str, int]] = {}
    per_incident: dict[int, list[tuple[str, str]]] = defaultdict(list)
    opened: dict[int, datetime] = {}
    for incident_id, opened_at, service, fingerprint, labels in alerts:
        per_incident[incident_id].append((service, fingerprint_family(fingerprint=fingerprint, labels=labels)))
        opened[incident_id] = opened_at
    for incident_id, keys in per_incident.items():
        opened_at = opened[incident_id]
        for key in keys:
            earlier = last_seen.get(key)
            if (incident_id not in found and earlier is not None and earlier[0] != incident_id
                    and opened_at - earlier[1] <= REPEAT_LOOKBACK and opened_at >= period.start):
                found[incident_id] = (incident_id, key[0], key[1], earlier[0])
        for key in keys:
            last_seen[key] = (incident_id, opened_at)
    return [found[k] for k in sorted(found)]
