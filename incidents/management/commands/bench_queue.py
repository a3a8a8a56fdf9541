"""`manage.py bench_queue`: 10,000 open incidents, then the server time of the queue's first page and of the
live "changed since" poll (README "Ops console" quotes the figures).

Timed through the whole Django stack (middleware, session, view, template) with the test client, as a
signed-in operator; the median of several runs after one warm-up. The incidents it made are deleted
at the end unless `--keep`.
"""
from __future__ import annotations

import statistics
import time
from datetime import timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand
from django.db import transaction
from django.test import Client
from django.utils import timezone
from tqdm import tqdm

from core.choices import Role
from core.services import service_get_or_create, team_get_or_create
from incidents.choices import IncidentStatus, TimelineKind
from incidents.models import Incident, TimelineEvent

PREFIX = "bench-queue"
BATCH = 1000  # rows per bulk insert: big enough to be quick, small enough for SQLite's variable limit
CHANGED = 25  # incidents that changed since the poll's cursor: a busy few seconds


class Command(BaseCommand):
    help = "Generate open incidents and time the queue's first page and its changed-since poll."

    def add_arguments(self, parser):
        parser.add_argument("--incidents", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=7)
        parser.add_argument("--keep", action="store_true", help="Keep the generated incidents.")

    def handle(self, *args, incidents: int, runs: int, keep: bool, **options):
        if incidents < 1 or runs < 1:
            self.stderr.write("--incidents and --runs must be at least 1")
            return
        user = self._operator()
        self._generate(incidents)
        client = Client()
        client.force_login(user)
        cursor = TimelineEvent.objects.order_by("-pk").values_list("pk", flat=True).first() or 0
        first = self._time(client, "/incidents/", runs)
        changes = self._time(client, f"/api/v1/incidents/changes/?since={max(cursor - CHANGED, 0)}", runs)
        search = self._time(client, "/incidents/?q=disk", runs)
        open_count = Incident.objects.filter(status=IncidentStatus.TRIGGERED).count()
        self.stdout.write(f"open incidents: {open_count}")
        self.stdout.write(f"queue first page: median {first[0]:.1f} ms, best {first[1]:.1f} ms (target < 150 ms)")
        self.stdout.write(f"changed-since poll ({CHANGED} changes): median {changes[0]:.1f} ms, "
                          f"best {changes[1]:.1f} ms (target < 50 ms)")
        self.stdout.write(f"search 'disk', first page: median {search[0]:.1f} ms, best {search[1]:.1f} ms")
        if not keep:
            self._cleanup()

    def _operator(self):
        User = get_user_model()
        user, _ = User.objects.get_or_create(username=f"{PREFIX}-operator")
        user.groups.add(Group.objects.get_or_create(name=Role.OPERATOR)[0])
        return user

    def _generate(self, total: int) -> None:
        team = team_get_or_create(name=f"{PREFIX} team")
        services = [service_get_or_create(name=f"{PREFIX}-{n}", team=team) for n in range(20)]
        now = timezone.now()
        titles = ("Disk nearly full", "High error rate", "Latency p95 above target", "Queue backlog growing")
        with tqdm(total=total, desc="incidents", unit="inc") as bar:
            for start in range(0, total, BATCH):
                size = min(BATCH, total - start)
                with transaction.atomic():
                    made = Incident.objects.bulk_create([
                        Incident(title=f"{titles[i % 4]} #{start + i}", service=services[i % 20], team=team,
                                 severity=1 + (i % 4), opened_at=now - timedelta(seconds=start + i),
                                 last_alert_at=now, last_received_at=now, alert_count=1 + i % 3,
                                 grouping_key=f"{PREFIX}:{start + i}")
                        for i in range(size)])
                    if made[0].pk is None:  # backends that do not return ids (none we run on today)
                        made = list(Incident.objects.filter(grouping_key__startswith=f"{PREFIX}:")
                                    .order_by("-pk")[:size])
                    TimelineEvent.objects.bulk_create([
                        TimelineEvent(incident_id=inc.pk, kind=TimelineKind.OPENED, message="benchmark",
                                      actor_name=PREFIX, at=now) for inc in made])
                bar.update(size)

    def _time(self, client: Client, url: str, runs: int) -> tuple[float, float]:
        client.get(url)  # warm-up: connection, templates, caches
        times = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - started) * 1000)
            if response.status_code != 200:
                raise SystemExit(f"{url} answered {response.status_code}")
        return statistics.median(times), min(times)

    def _cleanup(self) -> None:
        with transaction.atomic():
            Incident.objects.filter(service__name__startswith=f"{PREFIX}-").delete()
        self.stdout.write("generated incidents deleted (--keep keeps them)")
