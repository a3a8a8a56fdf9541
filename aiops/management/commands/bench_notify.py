"""Time from incident creation to the first delivery handed to a channel, during a 1,000 signals/s alert storm.

The storm goes through the real alert intake (Alertmanager webhooks stored as intake rows and
processed on the `ingest` queue); measured incidents are opened in this process and paged by the
`notify` worker. Needs REDIS_URL (a real broker) and preferably PostgreSQL; `--start-workers`
starts one worker for `ingest` and a separate one for `notify`, as in production.
"""
from __future__ import annotations

import json
import statistics
import subprocess
import threading
import time
import uuid
from datetime import UTC, datetime

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.db import connections
from django.utils import timezone
from tqdm import tqdm

from aiops.celery import app
from core.bench import LOG_DIR, celery_worker_start, processes_stop
from core.choices import IntegrationKind, Tier
from core.enqueue import is_eager
from core.models import Integration
from core.services import integration_create, service_get_or_create, team_get_or_create
from incidents.choices import OPEN_INCIDENT_STATUSES, ChannelKind
from incidents.contracts import SignalIn
from incidents.models import Delivery, Incident, NotificationPreference
from incidents.services import incident_resolve, signal_ingest
from monitoring.models import AlertIntake
from monitoring.tasks import process_alert_intake

STORM_FINGERPRINTS = 400  # distinct faults cycling in the storm: mostly repeats, as in a real storm


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


class Command(BaseCommand):
    help = "Measure incident-to-first-delivery latency (p50/p95) while an alert storm floods the ingest queue."

    def add_arguments(self, parser):
        parser.add_argument("--rate", type=int, default=1000, help="Storm signals per second.")
        parser.add_argument("--seconds", type=float, default=20.0, help="Storm duration.")
        parser.add_argument("--pages", type=int, default=40, help="Measured incidents, spread over the storm.")
        parser.add_argument("--batch", type=int, default=200, help="Alerts per Alertmanager request in the storm.")
        parser.add_argument("--start-workers", action="store_true",
                            help="Start an ingest worker and a separate notify worker for the run.")
        parser.add_argument("--ingest-concurrency", type=int, default=2)
        parser.add_argument("--notify-concurrency", type=int, default=2)

    def handle(self, *args, **opts):
        if is_eager() or not settings.REDIS_URL:
            raise CommandError(
                "bench_notify needs a broker and workers: set REDIS_URL (and CELERY_TASK_ALWAYS_EAGER=false)."
            )
        workers = self._start_workers(opts) if opts["start_workers"] else []
        try:
            self._check_workers()
            integration, page_services = self._setup(pages=opts["pages"])
            self._run(integration=integration, page_services=page_services, opts=opts)
        finally:
            # The storm outlives the run in the ingest queue; drop it so the next run starts clean.
            app.control.purge()
            AlertIntake.objects.filter(integration__name="bench-storm", status="queued").delete()
            processes_stop(workers)

    # --- setup ------------------------------------------------------------------------------

    def _start_workers(self, opts) -> list[subprocess.Popen]:
        procs = [
            celery_worker_start(queues=(queue,), concurrency=concurrency, log_name=f"notify-{queue}.log")
            for queue, concurrency in (("ingest", opts["ingest_concurrency"]), ("notify", opts["notify_concurrency"]))
        ]
        self.stdout.write(f"started workers: ingest (-c {opts['ingest_concurrency']}), "
                          f"notify (-c {opts['notify_concurrency']}); logs in {LOG_DIR}/notify-*.log")
        return procs

    def _check_workers(self) -> None:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            queues = {q["name"] for qs in (app.control.inspect(timeout=1.0).active_queues() or {}).values() for q in qs}
            if {"ingest", "notify"} <= queues:
                return
        raise CommandError("no worker consumes both the ingest and notify queues (use --start-workers)")

    def _setup(self, *, pages: int):
        team = team_get_or_create(name="Bench on-call", email="bench@example.com")
        User = get_user_model()
        pager, _ = User.objects.get_or_create(username="bench-pager", defaults={"email": "bench-pager@example.com"})
        team.members.add(pager)
        # In-app only: the hand-over itself is what is measured, not an SMTP server's speed.
        NotificationPreference.objects.update_or_create(user=pager, defaults={"channels": [ChannelKind.INAPP]})
        # One service per measured incident: signals on one service within the correlation window
        # would join a single incident, and each measurement must open its own.
        page_services = [service_get_or_create(name=f"bench-payments-{i}", team=team, tier=Tier.TIER_1)
                         for i in range(pages)]
        storm_team = team_get_or_create(name="Bench storm (nobody)")
        storm_service = service_get_or_create(name="bench-storm", team=storm_team, tier=Tier.TIER_4)
        integration = Integration.objects.filter(name="bench-storm", kind=IntegrationKind.ALERTMANAGER).first()
        if integration is None:
            integration, _ = integration_create(kind=IntegrationKind.ALERTMANAGER, name="bench-storm",
                                                service=storm_service)
        integration.rate_limit_per_minute = 10_000_000
        integration.save(update_fields=["rate_limit_per_minute"])
        # Close what an earlier run left open, or this run's signals would join those incidents.
        left_open = Incident.objects.filter(service__team__in=[team, storm_team], status__in=OPEN_INCIDENT_STATUSES)
        for incident in left_open:
            incident_resolve(incident=incident, actor_name="bench_notify")
        return integration, page_services

    # --- the run ----------------------------------------------------------------------------

    def _storm_bodies(self, *, batch: int, count: int) -> list[str]:
        """Alertmanager webhook bodies, built before the clock starts so the generator is not the bottleneck."""
        run = uuid.uuid4().hex[:6]
        now = datetime.now(UTC).isoformat()
        bodies = []
        for n in range(count):
            alerts = [{
                "status": "firing",
                "labels": {"alertname": f"StormAlert{(n * batch + i) % STORM_FINGERPRINTS}", "severity": "warning",
                           "instance": f"node-{(n * batch + i) % 37}"},
                "annotations": {"summary": "storm"},
                "startsAt": now, "endsAt": "0001-01-01T00:00:00Z", "generatorURL": "",
            } for i in range(batch)]
            bodies.append(json.dumps({"version": "4", "groupKey": f"bench-{run}-{n}", "status": "firing",
                                      "receiver": "aiops", "groupLabels": {}, "commonLabels": {},
                                      "commonAnnotations": {}, "externalURL": "", "alerts": alerts}))
        return bodies

    def _storm(self, *, integration, bodies: list[str], rate: int, batch: int, stop: threading.Event,
               stats: dict) -> None:
        """Store each request as the intake API would (an outbox row) and enqueue it on the ingest queue."""
        start = time.monotonic()
        try:
            for n, body in enumerate(bodies, start=1):
                if stop.is_set():
                    break
                intake = AlertIntake.objects.create(
                    integration=integration, kind="alertmanager", body=body, idempotency_key=uuid.uuid4().hex,
                    event_count=batch)
                process_alert_intake.delay(intake.pk)
                stats["sent"] = n * batch
                stats["seconds"] = time.monotonic() - start
                delay = start + n * batch / rate - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
        finally:
            connections.close_all()

    def _run(self, *, integration, page_services, opts) -> None:
        stop, stats = threading.Event(), {"sent": 0, "seconds": 0.0}
        requests = max(1, round(opts["rate"] * opts["seconds"] / opts["batch"]))
        bodies = self._storm_bodies(batch=opts["batch"], count=requests)
        storm = threading.Thread(target=self._storm, kwargs=dict(
            integration=integration, bodies=bodies, rate=opts["rate"], batch=opts["batch"], stop=stop, stats=stats),
            daemon=True)
        run = uuid.uuid4().hex[:8]
        run_started = timezone.now()
        storm.start()
        time.sleep(min(2.0, opts["seconds"] / 4))  # let the storm build a backlog first
        incident_ids: list[int] = []
        spacing = max(0.05, (opts["seconds"] - 4) / max(opts["pages"], 1))
        for i in tqdm(range(opts["pages"]), desc="pages", unit="incident"):
            result = signal_ingest(signal=SignalIn(
                source_kind="generic", source_name="bench", service=page_services[i].name,
                title=f"Bench payment failures {run}-{i}", severity_hint="critical",
                fingerprint=f"bench-{run}-{i}", labels={"bench": run, "i": str(i)}))
            if result.incident_id:
                incident_ids.append(result.incident_id)
            time.sleep(spacing)
        storm.join()
        processed = AlertIntake.objects.filter(integration=integration, status="processed",
                                               received_at__gte=run_started).count() * opts["batch"]
        latencies = self._collect(incident_ids)
        missing = len(incident_ids) - len(latencies)
        if not latencies:
            raise CommandError("no measured incident got a delivery (is the notify worker running?)")
        self.stdout.write(
            f"storm: {stats['sent']} signals in {stats['seconds']:.1f} s "
            f"({stats['sent'] / max(stats['seconds'], 1e-9):.0f}/s, "
            f"requested {opts['rate']}/s) as Alertmanager intake rows on the ingest queue; "
            f"{processed} processed by the ingest worker by the end of the run")
        self.stdout.write(
            f"incident creation -> first delivery handed to the channel, {len(latencies)} incidents"
            f"{f' ({missing} without a delivery in time)' if missing else ''}:")
        self.stdout.write(
            f"  p50 {percentile(latencies, 50) * 1000:.0f} ms   p95 {percentile(latencies, 95) * 1000:.0f} ms   "
            f"max {max(latencies) * 1000:.0f} ms   mean {statistics.fmean(latencies) * 1000:.0f} ms")
        self.stdout.write(f"  target p95 < 2000 ms: {'met' if percentile(latencies, 95) < 2.0 else 'NOT met'}")

    def _collect(self, incident_ids: list[int], timeout: float = 60.0) -> list[float]:
        deadline = time.monotonic() + timeout
        first: dict[int, tuple] = {}
        opened = dict(Incident.objects.filter(pk__in=incident_ids).values_list("pk", "opened_at"))
        while time.monotonic() < deadline and len(first) < len(incident_ids):
            rows = (Delivery.objects.filter(incident_id__in=incident_ids, first_claimed_at__isnull=False)
                    .values_list("incident_id", "created_at", "first_claimed_at"))
            for incident_id, created, claimed in rows:
                if incident_id not in first or claimed < first[incident_id][1]:
                    first[incident_id] = (created, claimed)
            time.sleep(0.5)
        # Where the time goes: opening -> the notify task has planned the deliveries -> a deliver task claimed one.
        planned = [(c - opened[i]).total_seconds() for i, (c, _) in first.items()]
        handed = [(h - c).total_seconds() for c, h in first.values()]
        if planned:
            self.stdout.write(f"  legs: opened -> deliveries planned p50 {percentile(planned, 50) * 1000:.0f} ms "
                              f"p95 {percentile(planned, 95) * 1000:.0f} ms; planned -> handed to channel "
                              f"p50 {percentile(handed, 50) * 1000:.0f} ms p95 {percentile(handed, 95) * 1000:.0f} ms")
        return [(h - opened[i]).total_seconds() for i, (_, h) in first.items()]
