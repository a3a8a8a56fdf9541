"""Operations report: open incidents by level, MTTA / MTTR / MTTD per level with their definitions, the trend,
noise reduction (signals -> incidents), the noisiest services and escalations."""
from __future__ import annotations

from bisect import bisect_right
from collections import defaultdict
from datetime import datetime, timedelta

from django.db.models import Count, Min, Q

from incidents.choices import Severity, TimelineKind
from incidents.models import Alert, Incident, PostIncidentReview, TimelineEvent
from incidents.selectors import noise_reduction_report

from .base import Chart, Figure, Period, ReportResult, Table, mean, minutes, report_register

TOP_NOISY = 10  # services in the noisy table; the rest are in the CSV of the noise page

DEFINITIONS = (
    ("MTTA (mean time to acknowledge)",
     "From the incident's opening (opened_at: the first alert's time) to its first acknowledgement "
     "(acknowledged_at: a person acknowledged, or started working on it); mean over the level's incidents "
     "opened in the period that were acknowledged."),
    ("MTTR (mean time to resolve)",
     "From the incident's opening (opened_at) to its resolution (resolved_at, the last one after a reopen); "
     "mean over the level's incidents opened in the period that are resolved."),
    ("MTTD (mean time to detect)",
     "From the start of impact (the review's impact start when its review records one, else the earliest "
     "first signal of its alerts) to the incident's opening (opened_at); mean over the level's incidents "
     "opened in the period."),
    ("Open at period end", "Opened before the period's end and not resolved by then."),
    ("Noise reduction", "1 − incidents opened ÷ signals received (every repeat of an alert counts as a signal), "
                        "for alerts first seen and incidents opened in the period."),
    ("Escalations", "Escalation steps run (timeline 'escalated' events) in the period, by the incident's level."),
)


def _rows(start: datetime, end: datetime) -> list[tuple]:
    return list(Incident.objects.filter(is_drill=False, opened_at__gte=start, opened_at__lt=end).order_by()
                .values_list("pk", "severity", "opened_at", "acknowledged_at", "resolved_at"))


def _detection_starts(start: datetime, end: datetime) -> dict[int, datetime]:
    firsts = dict(Alert.objects.filter(incident__opened_at__gte=start, incident__opened_at__lt=end).order_by()
                  .values("incident_id").annotate(first=Min("first_seen")).values_list("incident_id", "first"))
    reviewed = PostIncidentReview.objects.filter(incident__opened_at__gte=start, incident__opened_at__lt=end,
                                                 impact_start__isnull=False)
    firsts.update(dict(reviewed.values_list("incident_id", "impact_start")))
    return firsts


@report_register("operations", title="Operations", default_period="week",
                 description="Open incidents, MTTA / MTTR / MTTD per level, trend, noise and escalations.")
def compute(*, period: Period) -> ReportResult:
    rows = _rows(period.start, period.end)
    detection = _detection_starts(period.start, period.end)
    open_at_end = dict(
        Incident.objects.filter(is_drill=False, opened_at__lt=period.end).filter(Q(resolved_at__isnull=True)
                                                                  | Q(resolved_at__gte=period.end))
        .order_by().values_list("severity").annotate(n=Count("id")))
    escalations = dict(
        TimelineEvent.objects.filter(kind=TimelineKind.ESCALATED, at__gte=period.start, at__lt=period.end)
        .order_by().values_list("incident__severity").annotate(n=Count("id")))

    by_level: dict[int, dict[str, list[timedelta]]] = defaultdict(lambda: defaultdict(list))
    opened: dict[int, int] = defaultdict(int)
    for pk, level, opened_at, acked, resolved in rows:
        opened[level] += 1
        if acked:
            by_level[level]["ack"].append(acked - opened_at)
        if resolved:
            by_level[level]["fix"].append(resolved - opened_at)
        began = detection.get(pk)
        if began is not None:
            by_level[level]["detect"].append(max(opened_at - began, timedelta()))
    level_rows = []
    for level in Severity.values:
        d = by_level[level]
        level_rows.append((f"L{level} {Severity(level).label}", opened[level], open_at_end.get(level, 0),
                           len(d["ack"]), len(d["fix"]), minutes(mean(d["ack"])), minutes(mean(d["fix"])),
                           minutes(mean(d["detect"])), escalations.get(level, 0)))
    all_ack = [v for d in by_level.values() for v in d["ack"]]
    all_fix = [v for d in by_level.values() for v in d["fix"]]

    # Trend: per day (or month for long periods), incidents opened per level and MTTA / MTTR.
    buckets = period.buckets()
    labels = tuple(label for label, _, _ in buckets)
    per_bucket: dict[int, list[int]] = {level: [0] * len(buckets) for level in Severity.values}
    acks: list[list[timedelta]] = [[] for _ in buckets]
    fixes: list[list[timedelta]] = [[] for _ in buckets]
    starts = [b[1] for b in buckets]
    for _, level, opened_at, acked, resolved in rows:
        index = _bucket_index(starts, opened_at)
        per_bucket[level][index] += 1
        if acked:
            acks[index].append(acked - opened_at)
        if resolved:
            fixes[index].append(resolved - opened_at)
    trend_rows = tuple(
        (labels[i], sum(per_bucket[level][i] for level in Severity.values), minutes(mean(acks[i])),
         minutes(mean(fixes[i]))) for i in range(len(buckets)))

    noise = noise_reduction_report(since=period.start, until=period.end)
    noisy = sorted(noise.rows, key=lambda r: (-r.signals, r.service))[:TOP_NOISY]
    total = noise.total
    figures = (
        Figure(key="opened", label="Incidents opened", value=len(rows)),
        Figure(key="open_at_end", label="Open at period end", value=sum(open_at_end.values())),
        Figure(key="mtta_minutes", label="MTTA (all levels)", value=minutes(mean(all_ack)), unit="min"),
        Figure(key="mttr_minutes", label="MTTR (all levels)", value=minutes(mean(all_fix)), unit="min"),
        Figure(key="signals", label="Signals received", value=total.signals),
        Figure(key="noise_reduction", label="Noise reduction", unit="%",
               value=round(total.reduction * 100, 1) if total.signals else None),
        Figure(key="escalations", label="Escalations", value=sum(escalations.values())),
    )
    return ReportResult(
        name="operations", title="Operations", period=period, figures=figures, definitions=DEFINITIONS,
        tables=(
            Table(key="levels", title="By level",
                  columns=("level", "opened", "open at end", "acknowledged", "resolved", "MTTA min", "MTTR min",
                           "MTTD min", "escalations"), rows=tuple(level_rows)),
            Table(key="trend", title="Trend", columns=("period", "opened", "MTTA min", "MTTR min"), rows=trend_rows),
            Table(key="noisy", title="Noisiest services",
                  columns=("service", "signals", "alerts", "muted", "incidents", "noise reduction %"),
                  rows=tuple((r.service, r.signals, r.alerts, r.muted, r.incidents, round(r.reduction * 100, 1))
                             for r in noisy)),
        ),
        charts=(
            Chart(key="opened_by_level", title="Incidents opened by level", kind="bar", labels=labels,
                  series=tuple((f"L{level}", tuple(float(v) for v in per_bucket[level])) for level in Severity.values)),
            Chart(key="response_times", title="MTTA and MTTR (minutes)", kind="line", labels=labels,
                  series=(("MTTA", tuple(r[2] for r in trend_rows)), ("MTTR", tuple(r[3] for r in trend_rows)))),
        ),
    )


def _bucket_index(starts: list[datetime], moment: datetime) -> int:
    return max(bisect_right(starts, moment) - 1, 0)
