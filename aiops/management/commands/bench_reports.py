"""Generate a year of incidents (alerts, escalations, costs, reviews, action items) and time every report.

    DATABASE_URL=sqlite:///var/bench_reports.sqlite3 manage.py migrate
    DATABASE_URL=sqlite:///var/bench_reports.sqlite3 manage.py bench_reports --incidents 10000 --year 2025

Use a database of its own: the generated rows are real incidents.
"""
from __future__ import annotations

import random
import time
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from aiops.reports import report_run, report_specs
from core.models import Service, Team
from incidents.choices import (
    ActionItemStatus,
    ContributingFactor,
    Effectiveness,
    IncidentStatus,
    ReviewStatus,
    TimelineKind,
)
from incidents.models import ActionItem, Alert, Incident, IncidentCost, PostIncidentReview, TimelineEvent

PREFIX = "bench-report"
SERVICES = 20
BATCH = 1000


class Command(BaseCommand):
    help = "Fill a year of incident history and print how long each report takes for the year."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=10_000)
        parser.add_argument("--year", type=int, default=2025)
        parser.add_argument("--seed", type=int, default=11)
        parser.add_argument("--keep", action="store_true", help="Time the reports on the rows already there.")

    def handle(self, *args, **options):
        if not options["keep"]:
            self._generate(count=options["incidents"], year=options["year"], seed=options["seed"])
        self.stdout.write(f"incidents in the database: {Incident.objects.count()}")
        for spec in report_specs():
            period = str(options["year"]) if spec.name != "weekly_kpi" else f"{options['year']}-W26"
            started = time.perf_counter()
            result = report_run(name=spec.name, period=period)
            elapsed = time.perf_counter() - started
            self.stdout.write(f"report {spec.name:16s} --period {period:9s} {elapsed:6.2f} s  "
                              f"({len(result.figures)} figures, {sum(len(t.rows) for t in result.tables)} rows)")

    def _generate(self, *, count: int, year: int, seed: int) -> None:
        rng = random.Random(seed)
        Incident.objects.filter(title__startswith=PREFIX).delete()
        team, _ = Team.objects.get_or_create(slug=PREFIX, defaults={"name": PREFIX})
        services = [Service.objects.get_or_create(name=f"{PREFIX}-{i}", defaults={
            "team": team, "downtime_cost_per_minute": Decimal(rng.choice([5, 50, 150, 400, 1200]))})[0]
            for i in range(SERVICES)]
        user, _ = get_user_model().objects.get_or_create(username=f"{PREFIX}-owner")
        start = timezone.make_aware(datetime(year, 1, 1))
        span = 365 * 24 * 3600
        factors = ContributingFactor.values
        for offset in tqdm(range(0, count, BATCH), desc="incidents", unit="batch"):
            n = min(BATCH, count - offset)
            with transaction.atomic():
                rows = []
                resolved_at: dict[int, datetime] = {}
                for i in range(n):
                    opened = start + timedelta(seconds=rng.randrange(span))
                    acked = opened + timedelta(minutes=rng.randint(1, 120))
                    resolved = acked + timedelta(minutes=rng.randint(5, 600))
                    resolved_at[offset + i] = resolved
                    rows.append(Incident(
                        title=f"{PREFIX} {offset + i}", service=rng.choice(services), team=team,
                        severity=rng.choice([1, 2, 2, 3, 3, 3, 4, 4, 4, 4]), status=IncidentStatus.CLOSED,
                        opened_at=opened, last_alert_at=opened, last_received_at=opened, acknowledged_at=acked,
                        resolved_at=resolved, closed_at=resolved, acknowledged_by=user, alert_count=1))
                incidents = Incident.objects.bulk_create(rows)
                alerts, events, costs, reviews = [], [], [], []
                for number, incident in enumerate(incidents, start=offset):
                    resolved = resolved_at[number]
                    family = rng.randrange(40)
                    alerts.append(Alert(
                        fingerprint=f"{PREFIX}:{family}:{incident.pk}", source_kind="alertmanager",
                        service_id=incident.service_id, incident=incident, title=incident.title,
                        labels={"alertname": f"Alert{family}"}, status="resolved", count=rng.randint(1, 30),
                        first_seen=incident.opened_at - timedelta(minutes=rng.randint(0, 10)),
                        last_seen=incident.opened_at, resolved_at=resolved))
                    if rng.random() < 0.2:
                        events.append(TimelineEvent(incident=incident, kind=TimelineKind.ESCALATED,
                                                    at=incident.opened_at + timedelta(minutes=5),
                                                    actor_name="escalation", message="Escalated", data={"step": 1}))
                    total = Decimal(rng.randint(100, 100_000))
                    costs.append(IncidentCost(incident=incident, currency=settings.COST_CURRENCY, downtime=total,
                                              total=total, computed_at=resolved, frozen_at=resolved))
                    if incident.severity <= 2:
                        reviews.append(PostIncidentReview(
                            incident=incident, status=ReviewStatus.PUBLISHED, owner=user, summary="bench",
                            contributing_factors=[{"category": rng.choice(factors), "text": ""}],
                            due_date=(resolved + timedelta(days=7)).date(),
                            published_at=resolved + timedelta(days=3)))
                Alert.objects.bulk_create(alerts)
                TimelineEvent.objects.bulk_create(events)
                IncidentCost.objects.bulk_create(costs)
                created = PostIncidentReview.objects.bulk_create(reviews)
                ActionItem.objects.bulk_create([
                    ActionItem(review=r, title="bench action", owner=user, due_date=r.due_date or start.date(),
                               status=ActionItemStatus.DONE, completed_at=r.published_at,
                               effectiveness=rng.choice([Effectiveness.HELD, Effectiveness.RECURRED]))
                    for r in created])
