"""Daily digest (Level 4 incidents + all levels' summary) and the weekly KPI report for managers."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Sum
from django.template.loader import render_to_string
from django.utils import timezone

from incidents.choices import ChannelKind, DeliveryKind, Severity
from incidents.models import Alert, Incident

from . import notifications

DIGEST_CHANNELS = (ChannelKind.EMAIL, ChannelKind.INAPP)  # a digest is reading material, never a page
TOP_NOISY = 5  # services listed in the weekly report


@dataclass(frozen=True, slots=True, kw_only=True)
class LevelSummary:
    level: int
    label: str
    opened: int
    still_open: int


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestReport:
    period: str
    start: datetime
    end: datetime
    levels: tuple[LevelSummary, ...]
    low_incidents: tuple = ()
    mtta_minutes: float | None = None
    mttr_minutes: float | None = None
    noisy_services: tuple[tuple[str, int], ...] = ()
    total: int = 0
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True, slots=True, kw_only=True)
class DigestResult:
    period: str
    start: datetime
    recipients: int
    deliveries: int


def period_bounds(*, period: str, today: date | None = None) -> tuple[datetime, datetime]:
    """The last complete day (daily) or ISO week Monday-Sunday (weekly) before `today`, in the site time zone."""
    today = today or timezone.localdate()
    if period == "daily":
        start_day = today - timedelta(days=1)
        end_day = today
    elif period == "weekly":
        end_day = today - timedelta(days=today.weekday())
        start_day = end_day - timedelta(days=7)
    else:
        raise ValueError(f"period must be daily or weekly, not {period!r}")
    tz = timezone.get_current_timezone()
    return (timezone.make_aware(datetime.combine(start_day, time.min), tz),
            timezone.make_aware(datetime.combine(end_day, time.min), tz))


def _minutes(value: timedelta | None) -> float | None:
    return round(value.total_seconds() / 60, 1) if value is not None else None


def digest_report(*, period: str, start: datetime, end: datetime) -> DigestReport:
    opened = Incident.objects.filter(opened_at__gte=start, opened_at__lt=end, is_drill=False)
    # order_by() drops the model's default ordering, which would otherwise split the GROUP BY.
    counts = dict(opened.order_by().values_list("severity").annotate(n=Count("id")))
    still_open = opened.filter(resolved_at__isnull=True)
    open_counts = dict(still_open.order_by().values_list("severity").annotate(n=Count("id")))
    levels = tuple(
        LevelSummary(level=level, label=notifications.level_label(level),
                     opened=counts.get(level, 0), still_open=open_counts.get(level, 0))
        for level in Severity.values
    )
    low = tuple(opened.filter(severity=4).select_related("service").order_by("opened_at")[:200])
    mtta = opened.filter(acknowledged_at__isnull=False).aggregate(v=Avg(ExpressionWrapper(
        F("acknowledged_at") - F("opened_at"), output_field=DurationField())))["v"]
    mttr = opened.filter(resolved_at__isnull=False).aggregate(v=Avg(ExpressionWrapper(
        F("resolved_at") - F("opened_at"), output_field=DurationField())))["v"]
    noisy = tuple(
        (row["service__name"], row["n"])
        for row in Alert.objects.filter(last_seen__gte=start, first_seen__lt=end)
        .order_by().values("service__name").annotate(n=Sum("count")).order_by("-n")[:TOP_NOISY]
    )
    return DigestReport(period=period, start=start, end=end, levels=levels, low_incidents=low,
                        mtta_minutes=_minutes(mtta), mttr_minutes=_minutes(mttr), noisy_services=noisy,
                        total=sum(s.opened for s in levels))


def digest_recipients(*, period: str, report: DigestReport) -> list:
    """Daily: the Level 4 policy's audience (team of each L4 incident's service, plus groups); weekly: managers."""
    if period == "weekly":
        return notifications.audience_users(executives=False, managers=True, team=False)
    policy = notifications.policy_get(level=4)
    if policy is None:
        return notifications.audience_users(executives=False, managers=True, team=False)
    people = {u.pk: u for u in notifications.audience_users(
        executives=policy.notify_executives, managers=policy.notify_managers, team=False, extra=policy.users.all())}
    if policy.notify_team:
        for incident in report.low_incidents:
            for user in notifications.audience_users(executives=False, managers=False, team=True, incident=incident):
                people.setdefault(user.pk, user)
    return [people[pk] for pk in sorted(people)]


def digest_send(*, period: str, today: date | None = None) -> DigestResult:
    """Send the period's digest once per person and channel (re-running the same period sends nothing new)."""
    start, end = period_bounds(period=period, today=today)
    report = digest_report(period=period, start=start, end=end)
    recipients = digest_recipients(period=period, report=report)
    kind = DeliveryKind.DIGEST if period == "daily" else DeliveryKind.REPORT
    title = (f"[AIOps] Daily digest {start:%Y-%m-%d}: {report.total} incidents" if period == "daily"
             else f"[AIOps] Weekly KPI report {start:%Y-%m-%d} to {end - timedelta(days=1):%Y-%m-%d}")
    url = f"{settings.SITE_URL}/reports/weekly_kpi/" if period == "weekly" else f"{settings.SITE_URL}/incidents/"
    context = {"report": report, "title": title, "url": url, "site_url": settings.SITE_URL}
    message = {
        "subject": title,
        "text": render_to_string(f"incidents/notifications/{period}.txt", context),
        "html": render_to_string(f"incidents/notifications/{period}.html", context),
        "url": url, "kind": kind,
        "data": {"period": period, "start": start.isoformat(), "end": end.isoformat(), "total": report.total,
                 "mtta_minutes": report.mtta_minutes, "mttr_minutes": report.mttr_minutes},
    }
    policy = notifications.policy_get(level=4)
    allowed = [c for c in (policy.channels if policy and policy.channels else DIGEST_CHANNELS) if c in DIGEST_CHANNELS]
    targets = notifications.person_targets(users=recipients, allowed=allowed)
    result = notifications.deliveries_create(kind=kind, scope=f"{period}:{start:%Y-%m-%d}", targets=targets,
                                             message=message)
    return DigestResult(period=period, start=start, recipients=len(recipients), deliveries=result.created)
