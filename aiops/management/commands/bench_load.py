"""`manage.py bench_load`: mixed production traffic against gunicorn + workers for a few minutes.

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL). Without `--url` it starts gunicorn (gthread,
as deployed) and the workers of README "Production" (ingest+detect, notify+default) against the
same database and broker, and stops them at the end. It sends, open-loop at `--rate` requests/s
(each request due at its time, whatever the answers before it), a mix of:

  telemetry     POST /api/v1/telemetry (a batch of points of a few series)
  alerts        POST /api/v1/integrations/alertmanager (a group of alerts)
  api-incidents GET  /api/v1/incidents/            (an operator's API token)
  api-incident  GET  /api/v1/incidents/<id>/
  api-series    GET  /api/v1/series/
  queue-page    GET  /incidents/                   (a signed-in operator's browser session)

and prints, per endpoint and overall: requests, throughput, error rate (anything but the expected
2xx, or no answer), p50/p95/p99 latency. The targets: zero errors, reads p99 < 200 ms.
"""
from __future__ import annotations

import random
import re
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np
import orjson
import requests
from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from rest_framework.authtoken.models import Token
from tqdm import tqdm

from core.bench import BenchProcessError, celery_worker_start, gunicorn_start, processes_stop
from core.choices import IntegrationKind, Role
from core.services import integration_create, service_get_or_create, team_get_or_create
from incidents.models import Incident

# The mix: shares of requests (they add up to 1). Intake dominates, as agents outnumber people.
MIX = {"telemetry": 0.30, "alerts": 0.25, "api-incidents": 0.15, "api-incident": 0.10, "api-series": 0.05,
       "queue-page": 0.15}
READS = ("api-incidents", "api-incident", "api-series", "queue-page")
READ_P99_TARGET_MS = 200.0
POINTS_PER_BATCH = 50  # a scrape of a few series, as an agent pushes every few seconds
ALERTS_PER_GROUP = 3


@dataclass(frozen=True, slots=True)
class Sample:
    endpoint: str
    ok: bool
    seconds: float


class Command(BaseCommand):
    help = "Mixed telemetry, alerts, API reads and queue page views; prints throughput, errors, p50/p95/p99."

    def add_arguments(self, parser):
        parser.add_argument("--url", help="a running service (default: start gunicorn + workers here)")
        parser.add_argument("--duration", type=float, default=180.0, help="seconds of load (default 3 minutes)")
        parser.add_argument("--rate", type=float, default=40.0, help="requests per second, all endpoints together")
        parser.add_argument("--clients", type=int, default=16, help="concurrent connections")
        parser.add_argument("--services", type=int, default=10, help="services the traffic spreads over")
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--web-threads", type=int, default=4)

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES or not settings.REDIS_URL:
            raise CommandError("bench_load measures the production path: set DATABASE_URL=postgres://... and REDIS_URL")
        if opts["rate"] <= 0 or opts["duration"] <= 0:
            raise CommandError("--rate and --duration must be positive")
        setup = self._setup(opts["services"])
        procs = []
        try:
            if opts["url"]:
                url = opts["url"].rstrip("/")
            else:
                url, web = gunicorn_start(workers=opts["web_workers"], threads=opts["web_threads"],
                                          log_name="load-gunicorn.log")
                procs = [web, celery_worker_start(queues=("ingest", "detect"), concurrency=2,
                                                  log_name="load-intake.log"),
                         celery_worker_start(queues=("notify", "default"), concurrency=1, log_name="load-notify.log")]
            samples, elapsed = self._run(url, setup, opts)
        except BenchProcessError as exc:
            raise CommandError(str(exc)) from exc
        finally:
            processes_stop(procs)
        self._print(samples, elapsed, opts)

    # -- set-up: who sends and who reads ------------------------------------------------------------
    def _setup(self, count: int) -> dict:
        run = f"load{int(time.time())}"
        team = team_get_or_create(name="Load test")
        services = [service_get_or_create(name=f"{run}-svc-{i}", team=team) for i in range(count)]
        am_tokens = [integration_create(kind=IntegrationKind.ALERTMANAGER, name=f"{run}-am-{i}", service=s)[1]
                     for i, s in enumerate(services)]
        tel_tokens = [integration_create(kind=IntegrationKind.GENERIC, name=f"{run}-tel-{i}", service=s)[1]
                      for i, s in enumerate(services)]
        user = get_user_model().objects.create_user(username=f"{run}-operator", password=f"{run}-pw")
        user.groups.add(Group.objects.get_or_create(name=Role.OPERATOR)[0])
        token = Token.objects.create(user=user).key
        incident_ids = list(Incident.objects.order_by("-pk").values_list("pk", flat=True)[:50])
        return {"run": run, "services": services, "am": am_tokens, "tel": tel_tokens, "user": user.username,
                "password": f"{run}-pw", "token": token, "incidents": incident_ids}

    def _login(self, url: str, setup: dict) -> requests.Session:
        session = requests.Session()
        page = session.get(f"{url}/login/", timeout=10)
        match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
        if match is None:
            raise CommandError("the login page has no CSRF token")
        answer = session.post(f"{url}/login/", data={"username": setup["user"], "password": setup["password"],
                                                     "csrfmiddlewaretoken": match.group(1)},
                              headers={"Referer": f"{url}/login/"}, timeout=10, allow_redirects=False)
        if answer.status_code != 302:
            raise CommandError(f"could not sign in for page views: {answer.status_code} {answer.text[:300]}")
        return session

    # -- the load -----------------------------------------------------------------------------------
    def _run(self, url: str, setup: dict, opts) -> tuple[list[Sample], float]:
        rng = random.Random(16)
        total = int(opts["rate"] * opts["duration"])
        names, weights = list(MIX), list(MIX.values())
        plan = rng.choices(names, weights=weights, k=total)
        local = threading.local()
        samples: list[Sample] = []
        lock = threading.Lock()
        counter = iter(range(10**9))
        progress = tqdm(total=total, desc="requests", unit="req", disable=opts.get("verbosity", 1) < 1)

        # Every connection signs in before the clock starts (a failure is a CommandError, not a dead pool).
        pool_sessions = [(requests.Session(), self._login(url, setup)) for _ in range(opts["clients"])]
        handed = iter(range(opts["clients"]))
        hand_lock = threading.Lock()

        def sessions():
            if getattr(local, "api", None) is None:
                with hand_lock:
                    local.api, local.page = pool_sessions[next(handed)]
            return local.api, local.page

        def one(i: int) -> None:
            delay = started + i / opts["rate"] - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            endpoint = plan[i]
            api, page = sessions()
            seq = next(counter)
            k = seq % len(setup["services"])
            t0 = time.monotonic()
            try:
                status = self._send(endpoint, api, page, url, setup, k, seq)
                ok = 200 <= status < 300
            except requests.RequestException:
                ok = False
            sample = Sample(endpoint, ok, time.monotonic() - t0)
            with lock:
                samples.append(sample)
            progress.update(1)

        started = time.monotonic()
        with ThreadPoolExecutor(opts["clients"], initializer=sessions) as pool:
            list(pool.map(one, range(total)))
        progress.close()
        return samples, time.monotonic() - started

    def _send(self, endpoint: str, api, page, url: str, setup: dict, k: int, seq: int) -> int:
        service = setup["services"][k].name
        if endpoint == "telemetry":
            now = time.time()
            points = [{"service": service, "metric": "load_latency_ms", "labels": {"pod": str(p % 5)},
                       "timestamp": now - (p // 5), "value": 100.0 + (seq + p) % 17} for p in range(POINTS_PER_BATCH)]
            return api.post(f"{url}/api/v1/telemetry", data=orjson.dumps({"points": points}), timeout=30, headers={
                "Authorization": f"Bearer {setup['tel'][k]}", "Content-Type": "application/json"}).status_code
        if endpoint == "alerts":
            alerts = [{"status": "firing", "labels": {"alertname": f"Load{a}", "instance": f"{service}-{seq % 40}",
                                                      "severity": "warning"},
                       "annotations": {"summary": "load test"}, "startsAt": timezone.now().isoformat(),
                       "endsAt": "0001-01-01T00:00:00Z", "fingerprint": f"{setup['run']}-{service}-{seq % 40}-{a}"}
                      for a in range(ALERTS_PER_GROUP)]
            body = {"receiver": "aiops", "status": "firing", "version": "4", "groupKey": f"{{}}:{seq}",
                    "alerts": alerts, "groupLabels": {}, "commonLabels": {}, "commonAnnotations": {},
                    "externalURL": "http://am:9093"}
            return api.post(f"{url}/api/v1/integrations/alertmanager", data=orjson.dumps(body), timeout=30, headers={
                "Authorization": f"Bearer {setup['am'][k]}", "Content-Type": "application/json"}).status_code
        auth = {"Authorization": f"Token {setup['token']}"}
        if endpoint == "api-incidents":
            return api.get(f"{url}/api/v1/incidents/", headers=auth, timeout=30).status_code
        if endpoint == "api-incident":
            ids = setup["incidents"]
            if not ids:
                return api.get(f"{url}/api/v1/incidents/?status=triggered", headers=auth, timeout=30).status_code
            return api.get(f"{url}/api/v1/incidents/{ids[seq % len(ids)]}/", headers=auth, timeout=30).status_code
        if endpoint == "api-series":
            return api.get(f"{url}/api/v1/series/", headers=auth, timeout=30).status_code
        return page.get(f"{url}/incidents/", timeout=30).status_code

    # -- figures -----------------------------------------------------------------------------------
    def _print(self, samples: list[Sample], elapsed: float, opts) -> None:
        by: dict[str, list[Sample]] = defaultdict(list)
        for sample in samples:
            by[sample.endpoint].append(sample)
        self.stdout.write(f"{len(samples)} requests in {elapsed:.1f} s = {len(samples) / elapsed:.1f}/s "
                          f"(target {opts['rate']:.0f}/s, {opts['clients']} connections)")
        header = (f"{'endpoint':<14} {'requests':>8} {'req/s':>7} {'errors':>7} "
                  f"{'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8}")
        self.stdout.write(header)
        worst_read = 0.0
        for endpoint in [*MIX, "all"]:
            rows = samples if endpoint == "all" else by.get(endpoint, [])
            if not rows:
                continue
            ms = np.array([s.seconds * 1000 for s in rows])
            errors = sum(not s.ok for s in rows)
            p50, p95, p99 = np.percentile(ms, [50, 95, 99])
            if endpoint in READS:
                worst_read = max(worst_read, float(p99))
            self.stdout.write(f"{endpoint:<14} {len(rows):>8} {len(rows) / elapsed:>7.1f} "
                              f"{errors / len(rows):>7.2%} {p50:>8.1f} {p95:>8.1f} {p99:>8.1f}")
        errors = sum(not s.ok for s in samples)
        verdict = "met" if errors == 0 and worst_read < READ_P99_TARGET_MS else "NOT met"
        self.stdout.write(f"targets (zero errors, reads p99 < {READ_P99_TARGET_MS:.0f} ms): {verdict} "
                          f"({errors} errors, worst read p99 {worst_read:.1f} ms)")
