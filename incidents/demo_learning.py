"""Demo step (issue 11): a closed Level 2 incident with a published review, its frozen cost and four action
items: one held, one recurred (a later incident named the same contributing factor), one open, one overdue.
Managers subscribe to the e-mailed reports."""
from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.utils import timezone

from core.models import Service

from . import events, services
from .choices import ActionItemStatus, ReviewStatus, TimelineKind
from .contracts import SignalIn
from .models import Alert, Incident, ReportSubscription, TimelineEvent
from .services import action_items, costs, reviews

DEMO_LABEL = {"demo": "learning"}  # marks the step's alerts so a second run changes nothing


def _open(service: str, title: str, alertname: str, *, at, severity_hint: str) -> Incident:
    result = services.signal_ingest(signal=SignalIn(
        source_kind="alertmanager", source_name="prometheus-prod", service=service, title=title,
        labels={"alertname": alertname, **DEMO_LABEL}, severity_hint=severity_hint, occurred_at=at, received_at=at))
    if result.incident_id is None:
        raise RuntimeError(f"demo signal opened no incident ({result.outcome})")
    return Incident.objects.get(pk=result.incident_id)


def run(stdout) -> None:
    """Learning demo: a published review with action items (held, recurred), incident costs, report subscribers."""
    if Alert.objects.filter(labels__demo=DEMO_LABEL["demo"]).exists():
        stdout.write("  learning demo already loaded")
        return
    if not Service.objects.filter(name="postgres-main").exists():
        stdout.write("  learning demo needs the demo organisation")
        return
    people = {u.username: u for u in get_user_model().objects.filter(username__in=["olivia", "admin", "max"])}
    olivia, admin = people["olivia"], people["admin"]
    now = timezone.now()
    start = now - timedelta(days=45)

    # The incident: disk full on the primary database, checkout errors join 10 minutes in.
    incident = _open("postgres-main", "Disk full on db-1", "DiskFull", at=start, severity_hint="high")
    services.signal_ingest(signal=SignalIn(
        source_kind="alertmanager", source_name="prometheus-prod", service="checkout-api",
        title="5xx error rate above 10%", labels={"alertname": "HighErrorRate", **DEMO_LABEL}, severity_hint="high",
        occurred_at=start + timedelta(minutes=10), received_at=start + timedelta(minutes=10)))
    services.incident_acknowledge(incident=incident, user=olivia, now=start + timedelta(minutes=4))
    services.incident_assign(incident=incident, user=olivia, assignee=olivia)
    events.event_record(incident=incident, kind=TimelineKind.NOTE, actor=admin, at=start + timedelta(minutes=12),
                        message="WAL archive stuck: pg_wal at 98 %. Freeing space on db-1.")
    services.incident_resolve(incident=incident, user=olivia, now=start + timedelta(minutes=75),
                              note="archive_command fixed, 40 GB of WAL released")
    costs.cost_line_add(incident=incident, user=admin, amount=Decimal("500.00"), category="credit",
                        description="Service credits to two merchants")

    review = reviews.review_ensure(incident=incident, user=olivia)
    reviews.review_update(
        review=review, user=olivia, users_affected=340, orders_affected=55,
        summary="The WAL archive command failed silently after a bucket policy change; pg_wal filled the disk "
                "and the primary stopped accepting writes for 71 minutes.",
        contributing_factors=[
            {"category": "configuration", "text": "Bucket policy change broke archive_command"},
            {"category": "capacity", "text": "No alert before the disk was full"},
        ],
        went_well="The on-call engineer found the stuck archiver within 8 minutes.",
        went_badly="No alert on pg_wal growth; checkout kept retrying and doubled the load.",
        lessons="Alert on trends, not only thresholds; review infrastructure policy changes with the DBA.",
        participants=[olivia, admin], impact_services=list(Service.objects.filter(name="checkout-api")))
    note = TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.NOTE).first()
    if note is not None:
        reviews.review_mark_event(review=review, event_id=note.pk, user=olivia, starred=True,
                                  annotation="Root cause found here.")
    reviews.review_transition(review=review, to=ReviewStatus.IN_REVIEW, user=olivia)
    reviews.review_transition(review=review, to=ReviewStatus.PUBLISHED, user=admin)
    services.incident_close(incident=incident, user=olivia)

    done_at = start + timedelta(days=2)
    held = action_items.action_item_create(
        review=review, user=olivia, title="Alert when pg_wal grows faster than it is archived", owner=olivia,
        due_date=done_at.date(), priority="high", service=Service.objects.get(name="postgres-main"))
    action_items.action_item_update(item=held, user=olivia, status=ActionItemStatus.DONE, now=done_at)
    recurred = action_items.action_item_create(
        review=review, user=olivia, title="Peer review for infrastructure policy changes", owner=admin,
        due_date=done_at.date(), priority="medium", contributing_factor="configuration")
    action_items.action_item_update(item=recurred, user=admin, status=ActionItemStatus.DONE, now=done_at)
    action_items.action_item_create(review=review, user=olivia, title="Load-test checkout retries", owner=olivia,
                                    due_date=(now + timedelta(days=3)).date(), priority="medium",
                                    service=Service.objects.get(name="checkout-api"))
    action_items.action_item_create(review=review, user=olivia, title="Runbook: freeing WAL safely", owner=admin,
                                    due_date=(now - timedelta(days=4)).date(), priority="low")

    # Ten days later a configuration change breaks the reporting batch: the peer-review item did not hold.
    later_at = start + timedelta(days=10)
    later = _open("reporting-batch", "Batch job rejects its configuration", "BatchConfigInvalid", at=later_at,
                  severity_hint="warning")
    services.incident_resolve(incident=later, user=olivia, now=later_at + timedelta(minutes=40))
    later_review = reviews.review_ensure(incident=later, user=olivia)
    reviews.review_update(review=later_review, user=olivia, summary="A feature flag renamed a config key.",
                          contributing_factors=[{"category": "configuration", "text": "Renamed key, no review"}])
    decided = action_items.action_items_watch(now=now)
    refreshed = costs.incident_costs_refresh_open(now=now)

    manager = people.get("max")
    if manager is not None:
        for name in ("business_impact", "weekly_kpi"):
            ReportSubscription.objects.get_or_create(user=manager, report=name)
    stdout.write(f"  review of incident #{incident.pk} published; {decided} action items decided (held / recurred); "
                 f"cost {incident.cost.total if hasattr(incident, 'cost') else '?'} frozen; "
                 f"{refreshed} incident costs computed; max subscribed to the report e-mails")
