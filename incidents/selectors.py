"""Reads of the incidents app: the queue, one incident, MTTA/MTTR, the noise-reduction report, and the
response side (a person's in-app notifications, an incident's playbook run and deliveries)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import Count, Exists, F, OuterRef, Prefetch, Q, QuerySet, Sum, TextField
from django.db.models.functions import Cast, TruncDay
from django.utils import timezone

from core.models import Service

from .choices import OPEN_INCIDENT_STATUSES, DeliveryKind, DeliveryStatus
from .models import (
    Alert,
    ChannelEndpoint,
    Delivery,
    Incident,
    PlaybookRun,
    PlaybookStepRun,
    ServiceIncidentSettings,
    Silence,
    TimelineEvent,
    UserNotification,
)
from .services.silences import alert_match_labels, matchers_match


def incident_list(
    *, status: str | list[str] | None = None, severity: int | list[int] | None = None, service: str | None = None,
    team: str | None = None, assignee: str | None = None, since: datetime | None = None, open_only: bool = False,
) -> QuerySet[Incident]:
    """The queue: worst level first, then oldest first (the one waiting longest)."""
    qs = Incident.objects.select_related("service", "team", "assignee")
    if open_only:
        qs = qs.filter(status__in=OPEN_INCIDENT_STATUSES)
    if status:
        qs = qs.filter(status__in=[status] if isinstance(status, str) else status)
    if severity:
        qs = qs.filter(severity__in=[severity] if isinstance(severity, int) else severity)
    if service:
        qs = qs.filter(service__name=service)
    if team:
        qs = qs.filter(team__slug=team) if not team.isdigit() else qs.filter(team_id=int(team))
    if assignee:
        qs = qs.filter(assignee__username=assignee) if not assignee.isdigit() else qs.filter(assignee_id=int(assignee))
    if since:
        qs = qs.filter(opened_at__gte=since)
    return qs.order_by("severity", "opened_at", "id")


def incident_get(*, pk: int) -> Incident:
    """One incident with its alerts and timeline loaded (raises Incident.DoesNotExist)."""
    return (
        Incident.objects.select_related("service", "team", "assignee", "acknowledged_by", "resolved_by")
        .prefetch_related(
            Prefetch("alerts", queryset=Alert.objects.select_related("service", "silence", "grouping_rule")
                     .order_by("first_seen", "id")),
            Prefetch("timeline", queryset=TimelineEvent.objects.select_related("actor").order_by("at", "id")),
            "severity_overrides",
        )
        .get(pk=pk)
    )


def incident_counts_by_severity(*, open_only: bool = True) -> dict[int, int]:
    qs = Incident.objects.filter(is_drill=False)  # drills are rehearsals, never in a report
    if open_only:
        qs = qs.filter(status__in=OPEN_INCIDENT_STATUSES)
    counts = dict(qs.values_list("severity").annotate(n=Count("id")).values_list("severity", "n"))
    return {level: counts.get(level, 0) for level in (1, 2, 3, 4)}


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponseTimes:
    incidents: int
    acknowledged: int
    resolved: int
    mtta: timedelta | None  # mean time to acknowledge
    mttr: timedelta | None  # mean time to resolve (from opening)


def response_times(*, since: datetime | None = None, until: datetime | None = None, service: str | None = None,
                   severity: int | None = None) -> ResponseTimes:
    """MTTA and MTTR over incidents opened in [since, until), derived from their timestamps (drills excluded)."""
    qs = Incident.objects.filter(is_drill=False)
    if since:
        qs = qs.filter(opened_at__gte=since)
    if until:
        qs = qs.filter(opened_at__lt=until)
    if service:
        qs = qs.filter(service__name=service)
    if severity:
        qs = qs.filter(severity=severity)
    rows = list(qs.values_list("opened_at", "acknowledged_at", "resolved_at"))
    acks = [a - o for o, a, _ in rows if a]
    fixes = [r - o for o, _, r in rows if r]
    return ResponseTimes(
        incidents=len(rows), acknowledged=len(acks), resolved=len(fixes),
        mtta=sum(acks, timedelta()) / len(acks) if acks else None,
        mttr=sum(fixes, timedelta()) / len(fixes) if fixes else None,
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseRow:
    service: str
    signals: int  # signals received (every repeat counts)
    alerts: int  # distinct alerts after deduplication
    muted: int  # alerts held (silenced, flapping, pending)
    incidents: int  # incidents opened

    @property
    def reduction(self) -> float:
        """Share of signals that did not become an incident of their own."""
        return 1 - self.incidents / self.signals if self.signals else 0.0


@dataclass(frozen=True, slots=True, kw_only=True)
class NoiseReport:
    since: datetime
    until: datetime
    rows: list[NoiseRow]
    total: NoiseRow
    daily: list[dict]  # [{"day": date, "signals": n, "incidents": m}]


def noise_reduction_report(*, since: datetime | None = None, until: datetime | None = None,
                           service: str | None = None) -> NoiseReport:
    """Signals received vs incidents opened, per service and overall, by when alerts were first seen."""
    until = until or timezone.now()
    since = since or until - timedelta(days=7)
    alerts = Alert.objects.filter(first_seen__gte=since, first_seen__lt=until)
    incidents = Incident.objects.filter(opened_at__gte=since, opened_at__lt=until, is_drill=False)
    if service:
        alerts, incidents = alerts.filter(service__name=service), incidents.filter(service__name=service)
    by_service: dict[str, dict[str, int]] = {}
    for row in alerts.values("service__name").annotate(signals=Sum("count"), alerts=Count("id")):
        by_service.setdefault(row["service__name"], {}).update(signals=row["signals"], alerts=row["alerts"])
    for muted in alerts.exclude(hold="").values("service__name").annotate(n=Count("id")):
        by_service.setdefault(muted["service__name"], {})["muted"] = muted["n"]
    for opened in incidents.values("service__name").annotate(n=Count("id")):
        by_service.setdefault(opened["service__name"], {})["incidents"] = opened["n"]
    rows = [
        NoiseRow(service=name, signals=v.get("signals", 0), alerts=v.get("alerts", 0), muted=v.get("muted", 0),
                 incidents=v.get("incidents", 0))
        for name, v in sorted(by_service.items())
    ]
    total = NoiseRow(service="all services", signals=sum(r.signals for r in rows), alerts=sum(r.alerts for r in rows),
                     muted=sum(r.muted for r in rows), incidents=sum(r.incidents for r in rows))
    days: dict = {}
    for signal_day in alerts.annotate(day=TruncDay("first_seen")).values("day").annotate(n=Sum("count")):
        days.setdefault(signal_day["day"].date(), {})["signals"] = signal_day["n"]
    for opened_day in incidents.annotate(day=TruncDay("opened_at")).values("day").annotate(n=Count("id")):
        days.setdefault(opened_day["day"].date(), {})["incidents"] = opened_day["n"]
    daily = [{"day": day, "signals": v.get("signals", 0), "incidents": v.get("incidents", 0)}
             for day, v in sorted(days.items())]
    return NoiseReport(since=since, until=until, rows=rows, total=total, daily=daily)


def silence_list(*, active_only: bool = False) -> QuerySet[Silence]:
    qs = Silence.objects.select_related("created_by").annotate(muted_alerts=Count("alerts"))
    if active_only:
        now = timezone.now()
        qs = qs.filter(starts_at__lte=now, ends_at__gt=now, expired_early_at__isnull=True)
    return qs.order_by("-starts_at", "-id")


# The preview reads at most this many recent alerts: enough for a storm, bounded for the page's speed.
SILENCE_PREVIEW_SCAN = 20_000
SILENCE_PREVIEW_SHOWN = 25  # alerts listed by name; the counts cover all of them
SILENCE_PREVIEW_LOOKBACK = timedelta(hours=24)  # "would it have muted yesterday's noise?"


@dataclass(frozen=True, slots=True, kw_only=True)
class SilencePreview:
    """What a silence with these matchers would mute, before it is saved."""

    mute_now: int  # firing alerts outside incidents: muted the moment the silence is saved
    in_incidents: int  # firing alerts already in an incident: they stay there; their new kin are muted
    recent: int  # alerts seen in the lookback that match (what it would have muted)
    alerts: list[dict]  # the first matching alerts, firing first, JSON-ready
    scanned_all: bool  # False: more alerts than SILENCE_PREVIEW_SCAN, the counts are a lower bound


def silence_preview(*, matchers: list[dict[str, str]], now: datetime | None = None) -> SilencePreview:
    """Matching alerts by the same matcher logic the intake uses (`matchers_match` on the alert's labels and
    its service / source pseudo-labels). `matchers` must be clean (`matchers_clean`)."""
    now = now or timezone.now()
    since = now - SILENCE_PREVIEW_LOOKBACK
    rows = list(
        Alert.objects.filter(Q(status="firing") | Q(last_seen__gte=since))
        .select_related("service").order_by(F("last_seen").desc())
        .only("id", "title", "labels", "status", "hold", "incident_id", "source_kind", "source_name", "last_seen",
              "service__name")[: SILENCE_PREVIEW_SCAN + 1]
    )
    scanned_all = len(rows) <= SILENCE_PREVIEW_SCAN
    matched = [a for a in rows[:SILENCE_PREVIEW_SCAN] if matchers_match(matchers, alert_match_labels(
        labels=a.labels or {}, service=a.service.name, source_kind=a.source_kind, source_name=a.source_name))]
    firing = [a for a in matched if a.status == "firing"]
    shown = sorted(matched, key=lambda a: (a.status != "firing", -a.last_seen.timestamp()))[:SILENCE_PREVIEW_SHOWN]
    return SilencePreview(
        mute_now=sum(1 for a in firing if a.incident_id is None and a.hold in ("", "pending")),
        in_incidents=sum(1 for a in firing if a.incident_id is not None),
        recent=sum(1 for a in matched if a.last_seen >= since),
        alerts=[{"id": a.pk, "title": a.title, "service": a.service.name, "labels": a.labels or {},
                 "status": a.status, "hold": a.hold, "incident_id": a.incident_id,
                 "last_seen": a.last_seen.isoformat()} for a in shown],
        scanned_all=scanned_all,
    )


def service_incident_settings(*, service: Service) -> ServiceIncidentSettings:
    """The service's settings row, or unsaved defaults."""
    return ServiceIncidentSettings.objects.filter(service=service).first() or ServiceIncidentSettings(service=service)


def alerts_held(*, limit: int = 100) -> QuerySet[Alert]:
    """Muted/flapping/pending alerts, kept visible for people to review."""
    return Alert.objects.exclude(hold="").select_related("service", "silence").order_by(F("last_seen").desc())[:limit]


def user_notification_list(*, user, unread_only: bool = False) -> QuerySet[UserNotification]:
    notes = UserNotification.objects.filter(user=user)
    return notes.filter(read_at__isnull=True) if unread_only else notes


def user_unread_count(*, user) -> int:
    return UserNotification.objects.filter(user=user, read_at__isnull=True).count()


def playbook_run_get(*, incident_id: int) -> PlaybookRun | None:
    steps = PlaybookStepRun.objects.select_related("done_by").order_by("position", "id")
    return (PlaybookRun.objects.prefetch_related(Prefetch("steps", queryset=steps))
            .filter(incident_id=incident_id).first())


def incident_delivery_list(*, incident_id: int) -> QuerySet[Delivery]:
    return (Delivery.objects.filter(incident_id=incident_id).select_related("recipient", "endpoint")
            .order_by("created_at", "id"))


@dataclass(frozen=True, slots=True, kw_only=True)
class DeliveryStats:
    sent: int
    failed: int
    pending: int
    unhealthy_endpoints: int


def delivery_stats(*, since: datetime) -> DeliveryStats:
    """Notifications since `since` by outcome, and endpoints marked unhealthy (for the home page)."""
    counts = dict(Delivery.objects.filter(created_at__gte=since).order_by().values_list("status")
                  .annotate(n=Count("id")))
    return DeliveryStats(
        sent=counts.get(DeliveryStatus.SENT, 0), failed=counts.get(DeliveryStatus.FAILED, 0),
        pending=counts.get(DeliveryStatus.PENDING, 0) + counts.get(DeliveryStatus.SENDING, 0),
        unhealthy_endpoints=ChannelEndpoint.objects.filter(enabled=True, healthy=False).count(),
    )


# --- Console (issue 12): the live queue --------------------------------------------------

# The changes a poll returns at most: beyond this the console reloads its page of rows anyway.
CHANGES_LIMIT = 500
_LABEL_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,99}$")


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueFilter:
    """What the queue shows; read from the URL, so a view is a link (saved views store the query)."""

    status: tuple[str, ...] = tuple(s.value for s in OPEN_INCIDENT_STATUSES)
    severity: tuple[int, ...] = ()
    service: str = ""
    team: str = ""
    label: str = ""  # "name=value"
    mine: bool = False
    unassigned: bool = False
    q: str = ""


def incident_queue(*, filters: QueueFilter, user=None) -> QuerySet[Incident]:
    """The queue for a filter: worst level first, then oldest; search covers title, alert text and labels."""
    qs = incident_list(status=list(filters.status) or None, severity=list(filters.severity) or None,
                       service=filters.service or None, team=filters.team or None)
    if filters.mine and user is not None:
        qs = qs.filter(assignee_id=user.pk)
    if filters.unassigned:
        qs = qs.filter(assignee__isnull=True)
    if filters.label and "=" in filters.label:
        name, value = (part.strip() for part in filters.label.split("=", 1))
        if _LABEL_NAME.match(name):
            qs = qs.filter(Exists(Alert.objects.filter(incident_id=OuterRef("pk"), **{f"labels__{name}": value})))
    if filters.q:
        text = filters.q.strip()[:200]
        alerts = (Alert.objects.filter(incident_id=OuterRef("pk"))
                  .annotate(labels_text=Cast("labels", TextField()))
                  .filter(Q(title__icontains=text) | Q(description__icontains=text) | Q(labels_text__icontains=text)))
        qs = qs.filter(Q(title__icontains=text) | Exists(alerts))
    return qs


def incidents_in_order(*, ids: list[int]) -> list[Incident]:
    """These incidents, in this order, with what a queue row shows (not the wide JSON columns)."""
    found = (Incident.objects.select_related("service", "team", "assignee")
             .defer("severity_features", "severity_reasons", "resolution").in_bulk(ids))
    return [found[pk] for pk in ids if pk in found]


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueChange:
    id: int
    severity: int
    status: str
    title: str
    opened: bool  # opened (or reopened) since the cursor: the console makes new Level 1/2 stand out


@dataclass(frozen=True, slots=True, kw_only=True)
class QueueChanges:
    cursor: int
    changes: list[QueueChange]
    more: bool


def queue_changes(*, since: int | None) -> QueueChanges:
    """Incidents changed since `since` (a timeline event id: every change writes one), newest cursor.

    Two indexed reads: a primary-key range over the timeline and the incidents it names.
    Without `since` only the current cursor is returned (a page just loaded is up to date).
    """
    if since is None:
        last = TimelineEvent.objects.order_by("-pk").values_list("pk", flat=True).first()
        return QueueChanges(cursor=last or 0, changes=[], more=False)
    rows = list(TimelineEvent.objects.filter(pk__gt=since).order_by("pk")
                .values_list("pk", "incident_id", "kind")[:CHANGES_LIMIT])
    if not rows:
        return QueueChanges(cursor=since, changes=[], more=False)
    opened = {incident_id for _, incident_id, kind in rows if kind in ("opened", "reopened")}
    incidents = Incident.objects.filter(pk__in={r[1] for r in rows}).values_list("pk", "severity", "status", "title")
    changes = [QueueChange(id=pk, severity=sev, status=status, title=title, opened=pk in opened)
               for pk, sev, status, title in incidents]
    return QueueChanges(cursor=rows[-1][0], changes=changes, more=len(rows) == CHANGES_LIMIT)


@dataclass(frozen=True, slots=True, kw_only=True)
class DrillResult:
    incident_id: int
    title: str
    service: str
    level: int
    status: str
    opened_at: datetime  # alert in
    first_page_at: datetime | None  # the first page a channel accepted
    page_seconds: float | None  # alert in -> page out: the delivery SLO, measured
    acknowledged_at: datetime | None
    ack_seconds: float | None
    pages_sent: int
    pages_failed: int
    playbook: str


def drill_results(*, limit: int = 50) -> list[DrillResult]:
    """The latest drills with what they measured (one query for incidents, one for their pages)."""
    drills = list(Incident.objects.filter(is_drill=True).select_related("service", "playbook_run")
                  .order_by("-opened_at")[:limit])
    pages: dict[int, list[tuple[str, datetime | None]]] = {}
    for incident_id, status, sent_at in (Delivery.objects.filter(incident__in=drills, kind=DeliveryKind.PAGE)
                                         .values_list("incident_id", "status", "sent_at")):
        pages.setdefault(incident_id, []).append((status, sent_at))
    results = []
    for incident in drills:
        rows = pages.get(incident.pk, [])
        sent = [at for status, at in rows if status == DeliveryStatus.SENT and at is not None]
        first = min(sent) if sent else None
        run = getattr(incident, "playbook_run", None)
        results.append(DrillResult(
            incident_id=incident.pk, title=incident.title, service=incident.service.name, level=incident.severity,
            status=incident.status, opened_at=incident.opened_at, first_page_at=first,
            page_seconds=(first - incident.opened_at).total_seconds() if first else None,
            acknowledged_at=incident.acknowledged_at,
            ack_seconds=((incident.acknowledged_at - incident.opened_at).total_seconds()
                         if incident.acknowledged_at else None),
            pages_sent=len(sent), pages_failed=sum(status == DeliveryStatus.FAILED for status, _ in rows),
            playbook=run.playbook_name if run is not None else "",
        ))
    return results
