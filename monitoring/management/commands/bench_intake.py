"""`manage.py bench_intake`: alert intake throughput and latency (Alertmanager + PagerDuty over HTTP).

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL). Without `--url` it starts its own gunicorn
and a celery worker on the ingest queue against the same database and broker, and stops them at
the end. With `--url` (plus `--am-token`/`--pd-token` of integrations on that service) it posts to
a service already running against the same database, which it reads to count what was stored.

Prints accepted requests/s and events/s (an Alertmanager notification carries a group of alerts,
each alert one event; a PagerDuty request is one event) and p50/p99 request latency, timed after an
untimed warm-up of refused requests (nothing stored) on each client's connection. The worker starts
once posting is done (on one small box it would take the CPU the web workers are measured on); the
command then waits until every intake row is processed or failed and prints rows stored = requests
accepted and events in = alerts stored (every event carries a new fingerprint: one alert each), or
how many rows are still queued when it stops waiting.
"""
from __future__ import annotations

import http.client
import os
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
import orjson
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from core.bench import (
    LOG_DIR,
    BenchProcessError,
    celery_worker_start,
    gunicorn_start,
    processes_stop,
)
from core.choices import IntegrationKind
from core.models import Integration
from core.services import integration_create, service_get_or_create, team_get_or_create
from incidents.models import Alert
from monitoring.choices import AlertIntakeStatus
from monitoring.models import AlertIntake


class Command(BaseCommand):
    help = "Post Alertmanager and PagerDuty payloads concurrently; print events/s, p50/p99 and in = stored."

    def add_arguments(self, parser):
        parser.add_argument("--url", help="base URL of a running service (default: start gunicorn + worker here)")
        parser.add_argument("--am-token", help="alertmanager integration token for --url")
        parser.add_argument("--pd-token", help="pagerduty integration token for --url")
        parser.add_argument("--requests", type=int, default=6000, help="HTTP requests to send")
        parser.add_argument("--alerts-per-notification", type=int, default=5,
                            help="alerts in each Alertmanager notification (a group)")
        parser.add_argument("--pd-share", type=float, default=0.5, help="share of requests that are PagerDuty events")
        parser.add_argument("--services", type=int, default=8, help="bench services the alerts spread over")
        parser.add_argument("--clients", type=int, default=8, help="concurrent HTTP clients (keep-alive)")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers when started here")
        parser.add_argument("--web-threads", type=int, default=4, help="threads per gunicorn worker (gthread)")
        parser.add_argument("--worker-concurrency", type=int, default=2, help="celery processes when started here")
        parser.add_argument("--timeout", type=float, default=1800.0, help="seconds to wait for processing")
        parser.add_argument("--warmup", type=int, default=10,
                            help="untimed requests per client first (refused with 400, nothing stored)")

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES or not settings.REDIS_URL:
            raise CommandError(
                "bench_intake measures the production path: set DATABASE_URL=postgres://... and REDIS_URL"
            )
        run = f"bench{int(time.time())}"
        services = self._services(run, opts["services"])
        if opts["url"]:
            if not (opts["am_token"] and opts["pd_token"]):
                raise CommandError("--url needs --am-token and --pd-token of integrations on that service")
            tokens = (opts["am_token"], opts["pd_token"])
            integrations = []
        else:
            integrations, tokens = self._integrations(run, services)
        self._tokens = tokens
        bodies = self._bodies(run, services, tokens, opts)
        events = sum(n for _, _, n in bodies)
        n_pd = sum(1 for kind, _, _ in bodies if kind == "pd")
        self.stdout.write(
            f"{len(bodies):,} requests = {len(bodies) - n_pd:,} Alertmanager notifications x "
            f"{opts['alerts_per_notification']} alerts + {n_pd:,} PagerDuty events = {events:,} events; "
            f"{opts['clients']} concurrent clients"
        )
        procs: list[subprocess.Popen] = []
        try:
            url = opts["url"]
            if not url:
                url, procs = self._start_stack(opts)
            self._post(url.rstrip("/"), bodies, opts, web_pid=procs[0].pid if procs else None)
            if not opts["url"]:
                procs.append(self._start_worker(opts))
            self._wait(run, events, len(bodies), integrations, opts)
        finally:
            processes_stop(procs)

    # --- set-up ---------------------------------------------------------------------------------
    def _services(self, run: str, count: int):
        team = team_get_or_create(name="Benchmarks")
        return [service_get_or_create(name=f"{run}-svc-{i}", team=team) for i in range(count)]

    def _integrations(self, run: str, services) -> tuple[list[Integration], tuple[str, str]]:
        # One agent per format files under all the bench services (its default and extra ones).
        am, am_token = integration_create(kind=IntegrationKind.ALERTMANAGER, name=f"{run}-am", service=services[0],
                                          extra_services=services[1:])
        pd, pd_token = integration_create(kind=IntegrationKind.PAGERDUTY, name=f"{run}-pd", service=services[0],
                                          extra_services=services[1:])
        # The bench measures throughput, not the flood guard.
        Integration.objects.filter(pk__in=[am.pk, pd.pk]).update(rate_limit_per_minute=10_000_000)
        return [am, pd], (am_token, pd_token)

    def _bodies(self, run, services, tokens, opts) -> list[tuple[str, bytes, int]]:
        """Pre-encoded requests, each with fresh fingerprints so every event is a new alert."""
        rng = np.random.default_rng(0)
        pd_token = tokens[1]
        starts = (datetime.now(UTC) - timedelta(minutes=1)).isoformat()
        per = opts["alerts_per_notification"]
        bodies = []
        for i in range(opts["requests"]):
            service = services[i % len(services)].name
            if rng.random() < opts["pd_share"]:
                event = {
                    "routing_key": pd_token, "event_action": "trigger", "dedup_key": f"{run}-pd-{i}",
                    "payload": {"summary": f"Queue depth high on worker-{i % 50}", "source": f"worker-{i % 50}",
                                "severity": "warning", "component": service, "custom_details": {"depth": i}},
                }
                bodies.append(("pd", orjson.dumps(event), 1))
                continue
            alerts = [
                {"status": "firing",
                 "labels": {"alertname": "HighLatency", "service": service, "instance": f"web-{i}-{j}",
                            "severity": "critical"},
                 "annotations": {"summary": f"p99 latency above 1 s on web-{i}-{j}", "description": "bench"},
                 "startsAt": starts, "endsAt": "0001-01-01T00:00:00Z",
                 "generatorURL": "http://prometheus:9090/graph", "fingerprint": f"{run}-{i:07d}{j:02d}"}
                for j in range(per)
            ]
            payload = {
                "receiver": "aiops", "status": "firing", "alerts": alerts,
                "groupLabels": {"alertname": "HighLatency"}, "commonLabels": {"alertname": "HighLatency"},
                "commonAnnotations": {}, "externalURL": "http://alertmanager:9093", "version": "4",
                "groupKey": f'{{}}:{{alertname="HighLatency", batch="{i}"}}', "truncatedAlerts": 0,
            }
            bodies.append(("am", orjson.dumps(payload), per))
        return bodies

    def _start_stack(self, opts) -> tuple[str, list[subprocess.Popen]]:
        try:
            url, web = gunicorn_start(workers=opts["web_workers"], threads=opts["web_threads"],
                                      log_name="intake-gunicorn.log")
        except BenchProcessError as exc:
            raise CommandError(str(exc)) from None
        self.stdout.write(f"started gunicorn ({opts['web_workers']} workers x {opts['web_threads']} threads) on {url}; "
                          f"logs in {LOG_DIR}")
        return url, [web]

    def _start_worker(self, opts) -> subprocess.Popen:
        """The ingest worker starts once posting is done: on a small box it would otherwise take the
        CPU the web workers are being measured on (in production workers run elsewhere)."""
        worker = celery_worker_start(queues=("ingest",), concurrency=opts["worker_concurrency"],
                                     log_name="intake-worker.log")
        self.stdout.write(f"started a celery worker on the ingest queue (-c {opts['worker_concurrency']})")
        return worker

    # --- measurement ------------------------------------------------------------------------------
    def _post(self, url: str, bodies, opts, web_pid: int | None = None) -> None:
        parts = urlsplit(url)
        host = parts.hostname or "127.0.0.1"
        # Alertmanager authenticates by header; PagerDuty senders by the body's routing_key.
        am_headers = {"Authorization": f"Bearer {self._tokens[0]}", "Content-Type": "application/json"}
        pd_headers = {"Content-Type": "application/json"}
        latencies = np.zeros(len(bodies))
        statuses = np.zeros(len(bodies), dtype=np.int16)
        cursor = iter(range(len(bodies)))
        lock = threading.Lock()
        bar = tqdm(total=len(bodies), desc="post", unit="req", file=self.stderr._out, mininterval=0.5)
        # Warm-up, not timed: requests that authenticate and are refused (400, nothing stored), so
        # every web worker has loaded its URL map and opened its database connection, as in a
        # service that has been running for a while.
        warmup = [
            ("/api/v1/integrations/alertmanager", b'{"version": "warm-up"}', am_headers),
            ("/api/v1/integrations/pagerduty/v2/enqueue",
             orjson.dumps({"routing_key": self._tokens[1], "event_action": "warm-up"}), pd_headers),
        ]
        warm_statuses: list[int] = []
        start_line = threading.Barrier(opts["clients"] + 1)

        def client() -> None:
            conn = http.client.HTTPConnection(host, parts.port or 80, timeout=30)
            try:
                for n in range(opts["warmup"]):
                    path, body, headers = warmup[n % 2]
                    conn.request("POST", path, body=body, headers=headers)
                    response = conn.getresponse()
                    response.read()
                    warm_statuses.append(response.status)
            finally:
                start_line.wait()
            while True:
                with lock:
                    i = next(cursor, None)
                if i is None:
                    break
                kind, body, _ = bodies[i]
                path = ("/api/v1/integrations/alertmanager" if kind == "am"
                        else "/api/v1/integrations/pagerduty/v2/enqueue")
                t0 = time.perf_counter()
                try:
                    conn.request("POST", path, body=body, headers=am_headers if kind == "am" else pd_headers)
                    response = conn.getresponse()
                    response.read()
                    statuses[i] = response.status
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conn = http.client.HTTPConnection(host, parts.port or 80, timeout=30)
                    statuses[i] = 599
                latencies[i] = time.perf_counter() - t0
                bar.update(1)
            conn.close()

        threads = [threading.Thread(target=client) for _ in range(opts["clients"])]
        for thread in threads:
            thread.start()
        start_line.wait()
        if any(code != 400 for code in warm_statuses):
            self.stdout.write(f"warm-up answers other than 400: {sorted(set(warm_statuses))}")
        cpu_before = _cpu_seconds(web_pid)
        self._started_at = datetime.now(UTC)
        started = time.perf_counter()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        cpu_after = _cpu_seconds(web_pid)
        bar.close()
        accepted = statuses == 202
        events = sum(n for (_, _, n), ok in zip(bodies, accepted, strict=False) if ok)
        if not accepted.all():
            codes, counts = np.unique(statuses[~accepted], return_counts=True)
            self.stdout.write(f"NOT accepted: {dict(zip(codes.tolist(), counts.tolist(), strict=False))}")
        ms = latencies * 1000
        self.stdout.write(
            f"accepted {accepted.sum():,}/{len(bodies):,} requests ({events:,} events) in {elapsed:.2f} s: "
            f"{accepted.sum() / elapsed:,.0f} requests/s, {events / elapsed:,.0f} events/s"
        )
        self.stdout.write(f"latency: p50 {np.percentile(ms, 50):.1f} ms, p99 {np.percentile(ms, 99):.1f} ms, "
                          f"max {ms.max():.1f} ms")
        for kind in ("am", "pd"):
            mask = np.array([k == kind for k, _, _ in bodies])
            if mask.any():
                self.stdout.write(f"  {'Alertmanager' if kind == 'am' else 'PagerDuty   '}: "
                                  f"p50 {np.percentile(ms[mask], 50):.1f} ms, p99 {np.percentile(ms[mask], 99):.1f} ms")
        if cpu_before and cpu_after:
            # CPU is what the wall figures cannot show on a shared machine: judge changes by it.
            parts_ms = {name: 1000 * (cpu_after[name] - cpu_before[name]) / len(bodies) for name in cpu_before}
            self.stdout.write("CPU per request: " + ", ".join(f"{name} {ms:.2f} ms" for name, ms in parts_ms.items())
                              + f"; total {sum(parts_ms.values()):.2f} ms")
        self._accepted_events = events
        self._accepted_requests = int(accepted.sum())

    def _wait(self, run, events, requests, integrations, opts) -> None:
        if integrations:
            intakes = AlertIntake.objects.filter(integration__in=integrations)
        else:  # --url: the integrations are the given tokens'; count this run's rows by time
            intakes = AlertIntake.objects.filter(received_at__gte=self._started_at)
        alerts = Alert.objects.filter(service__name__startswith=f"{run}-svc-")
        started = time.perf_counter()
        deadline = time.monotonic() + opts["timeout"]
        bar = tqdm(total=self._accepted_events, desc="processed", unit="ev", file=self.stderr._out, mininterval=1)
        unfinished = [AlertIntakeStatus.QUEUED, AlertIntakeStatus.PROCESSING]
        while True:
            stored = alerts.count()
            bar.n = stored
            bar.refresh()
            pending = intakes.filter(status__in=unfinished).count()
            if pending == 0 or time.monotonic() > deadline:
                break
            time.sleep(1)
        bar.close()
        elapsed = time.perf_counter() - started
        stored = alerts.count()
        rows = intakes.count()
        processed = intakes.filter(status=AlertIntakeStatus.PROCESSED).count()
        failed = intakes.filter(status=AlertIntakeStatus.FAILED).count()
        pending = intakes.filter(status__in=unfinished).count()
        self.stdout.write(
            f"intake rows stored: {rows:,} for {self._accepted_requests:,} accepted requests "
            f"({'equal' if rows == self._accepted_requests else 'MISMATCH'}); processed {processed:,}, "
            f"failed {failed:,}, still queued {pending:,}"
        )
        if pending:
            self.stdout.write(f"stopped waiting after {opts['timeout']:.0f} s with {pending:,} intake rows "
                              "still queued: stored, not lost; the worker (or the sweep beat task) finishes them, "
                              "so the count below is partial")
        self.stdout.write(f"events in: {self._accepted_events:,}  alerts stored: {stored:,}  "
                          f"({'equal' if stored == self._accepted_events else 'MISMATCH'})")
        rate = stored / max(elapsed, 1e-9)
        self.stdout.write(f"processing: all rows finished {elapsed:.1f} s after the worker was started "
                          f"({rate:,.0f} events/s, worker start-up included)" if not pending else
                          f"processing: {stored:,} events stored in {elapsed:.1f} s ({rate:,.0f} events/s)")


def _cpu_seconds(web_pid: int | None) -> dict[str, float] | None:
    """CPU seconds used so far by the gunicorn we started (master and workers), by the
    PostgreSQL backends serving this database, and by this process (the clients); None when not
    measurable (a service at --url, or a database on another machine)."""
    if web_pid is None:
        return None
    from django.db import connection

    tick = os.sysconf("SC_CLK_TCK")

    def stat(pid: int) -> tuple[int, float] | None:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return int(fields[1]), (int(fields[11]) + int(fields[12])) / tick  # ppid, utime + stime

    stats = {pid: s for p in Path("/proc").iterdir() if p.name.isdigit() and (s := stat(pid := int(p.name)))}
    web = sum(s[1] for pid, s in stats.items() if pid == web_pid or s[0] == web_pid)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        backends = [row[0] for row in cursor.fetchall()]
    if not any(stats.get(pid) for pid in backends):
        return None
    database = sum(stats[pid][1] for pid in backends if pid in stats)
    return {"web": web, "PostgreSQL": database, "clients": time.process_time()}
