"""`manage.py bench_ingest`: end-to-end telemetry throughput (HTTP → stored → scored) against the raw COPY rate.

Needs PostgreSQL and Redis (DATABASE_URL, REDIS_URL). Without `--url` it starts its own
gunicorn and celery worker (ingest + detect queues) on this machine against the same
database and broker, and stops them at the end. With `--url` it posts to a service
already running against the same database (it reads progress from the database).

`--detect-only --workers N`: how detection scales out. It stores a backlog of points queued for
detection (many services, so every drain partition has work), starts N `celery worker -c 1 -Q
detect` processes, asks every partition for a drain and times until the queue is empty.
"""
from __future__ import annotations

import os
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import orjson
import requests
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Sum
from tqdm import tqdm

from core.bench import LOG_DIR, BenchProcessError, celery_worker_start, gunicorn_start, processes_stop
from core.choices import IntegrationKind
from core.drain import partition_count, partition_of
from core.enqueue import send
from core.models import Service, Team
from core.services import (
    integration_create,
    integration_revoke,
    service_get_or_create,
    team_get_or_create,
)
from monitoring.models import DetectQueue, MetricSeries, Point, TelemetryBatch
from monitoring.services.points import labels_hash, pg_copy_binary


class Command(BaseCommand):
    help = "Post telemetry batches over HTTP, wait until every point is stored and scored, compare with raw COPY."

    def add_arguments(self, parser):
        parser.add_argument("--url", help="base URL of a running service (default: start gunicorn + worker here)")
        parser.add_argument("--token", help="integration token for --url (default: create one)")
        parser.add_argument("--services", type=int, default=100)
        parser.add_argument("--series-per-service", type=int, default=4)
        parser.add_argument("--points", type=int, default=200_000, help="total points to send")
        parser.add_argument("--batch", type=int, default=1_000, help="points per request")
        parser.add_argument("--threads", type=int, default=4, help="concurrent HTTP senders")
        parser.add_argument("--steps-per-request", type=int, default=10,
                            help="consecutive samples of each series in one request (batch/steps series per request)")
        parser.add_argument("--web-workers", type=int, default=2, help="gunicorn workers when started here")
        parser.add_argument("--worker-concurrency", type=int, default=2, help="celery processes when started here")
        parser.add_argument("--timeout", type=float, default=600.0)
        parser.add_argument("--keep", action="store_true", help="keep the bench services and their data")
        parser.add_argument("--detect-only", action="store_true",
                            help="time a stored detection backlog drained by --workers worker processes")
        parser.add_argument("--workers", type=int, default=1, help="detect worker processes (-c 1 each), --detect-only")

    def handle(self, *args, **opts):
        if not settings.IS_POSTGRES or not settings.REDIS_URL:
            raise CommandError(
                "bench_ingest measures the production path: set DATABASE_URL=postgres://... and REDIS_URL"
            )
        run = f"bench{int(time.time())}"
        n_series = opts["services"] * opts["series_per_service"]
        per_series = max(1, opts["points"] // n_series)
        total = per_series * n_series
        services = self._services(run, opts["services"])
        if opts["detect_only"]:
            try:
                self._detect_only(services, opts["series_per_service"], per_series, opts)
            finally:
                if not opts["keep"]:
                    for service in services:
                        service.delete()
            return
        integration, token = integration_create(kind=IntegrationKind.GENERIC, name=run, service=services[0],
                                                extra_services=services[1:])
        token = opts["token"] or token
        opts["_rounds"] = -(-per_series // max(1, min(opts["steps_per_request"], per_series, opts["batch"])))
        bodies, ts, values, keys = self._bodies(services, opts["series_per_service"], per_series, opts["batch"],
                                                opts["steps_per_request"])
        self.stdout.write(
            f"{total:,} points = {n_series:,} series x {per_series} points ({opts['services']} services), "
            f"{len(bodies)} requests of {opts['batch']:,} ({opts['steps_per_request']} samples of each series), "
            f"{opts['threads']} sender threads"
        )
        procs: list[subprocess.Popen] = []
        try:
            url = opts["url"]
            if not url:
                url, procs = self._start_stack(opts)
            elapsed, stored, scored = self._post_and_wait(url.rstrip("/"), token, bodies, services, total, opts)
            e2e = total / elapsed
            self.stdout.write(
                f"end to end: {total:,} points stored ({stored:,} new) and {scored:,} scored in {elapsed:.2f} s "
                f"= {e2e:,.0f} points/s"
            )
            if scored < total:
                self.stdout.write(
                    f"  {total - scored:,} points arrived later than the allowed lateness: stored, not scored"
                )
            copy_rate = self._copy_rate(services, keys, ts, values)
            self.stdout.write(f"raw binary COPY of the same rows into the points table (same indexes and keys): "
                              f"{copy_rate:,.0f} points/s")
            self.stdout.write(f"ratio end-to-end / COPY: {e2e / copy_rate:.3f}")
        finally:
            processes_stop(procs)
            integration_revoke(integration=integration)
            if not opts["keep"]:
                self._cleanup(run, services, integration)

    # --- set-up ---------------------------------------------------------------------------------
    def _services(self, run: str, count: int) -> list[Service]:
        team = team_get_or_create(name="Benchmarks")
        return [service_get_or_create(name=f"{run}-svc-{i}", team=team) for i in range(count)]

    def _bodies(self, services, per_service: int, per_series: int, batch: int, steps: int):
        """Pre-encoded request bodies; each request holds consecutive time steps of a slice of series,
        and requests go out in time order so every point is scored (none arrives behind a watermark)."""
        rng = np.random.default_rng(0)
        names = [(s.name, f"metric_{j}") for s in services for j in range(per_service)]
        n = len(names)
        step = 60.0
        end = time.time() - 2 * 3600  # history: anomalies in it are stored but page nobody
        ts = end - step * np.arange(per_series)[::-1]
        phase = rng.uniform(0, 2 * np.pi, n)
        values = 100 + 10 * np.sin(2 * np.pi * ts[None, :] / 86400 + phase[:, None]) + rng.normal(0, 1, (n, per_series))
        # `steps` consecutive samples of batch/steps series per request (an agent buffering that long).
        steps_per_request = max(1, min(steps, per_series, batch))
        series_per_request = max(1, min(n, batch // steps_per_request))
        bodies: list[bytes] = []
        for t0 in range(0, per_series, steps_per_request):
            for s0 in range(0, n, series_per_request):
                points = [
                    {"service": names[i][0], "metric": names[i][1], "labels": {"bench": "1"},
                     "timestamp": float(ts[t]), "value": float(values[i, t])}
                    for i in range(s0, min(n, s0 + series_per_request))
                    for t in range(t0, min(per_series, t0 + steps_per_request))
                ]
                bodies.append(orjson.dumps({"points": points}))
        return bodies, ts, values, names

    def _start_stack(self, opts) -> tuple[str, list[subprocess.Popen]]:
        try:
            url, web = gunicorn_start(workers=opts["web_workers"])
        except BenchProcessError as exc:
            raise CommandError(str(exc)) from None
        worker = celery_worker_start(queues=("ingest", "detect"), concurrency=opts["worker_concurrency"],
                                     log_name="worker.log", loglevel="info")
        # Measure a running service: the clock starts once the worker takes tasks.
        deadline = time.monotonic() + 120
        while " ready." not in (LOG_DIR / "worker.log").read_text(errors="replace"):
            if worker.poll() is not None or time.monotonic() > deadline:
                processes_stop([web, worker])
                raise CommandError(f"the celery worker did not start; see {LOG_DIR / 'worker.log'}")
            time.sleep(0.2)
        self.stdout.write(f"started gunicorn ({opts['web_workers']} workers) on {url} and a celery worker "
                          f"(-c {opts['worker_concurrency']}); logs in {LOG_DIR}")
        return url, [web, worker]

    # --- detection scaling ------------------------------------------------------------------------
    def _detect_only(self, services: list[Service], per_service: int, per_series: int, opts: dict) -> None:
        total = self._detect_backlog(services, per_service, per_series)
        queue = DetectQueue.objects.filter(series__service__in=services)
        partitions = len({partition_of(s.pk) for s in services})
        self.stdout.write(f"backlog: {total:,} points of {len(services) * per_service:,} series "
                          f"({len(services)} services in {partitions} of {partition_count()} partitions)")
        workers = []
        try:
            for i in range(opts["workers"]):
                log = f"detect-{i}.log"
                workers.append(celery_worker_start(queues=("detect",), concurrency=1, log_name=log, loglevel="info"))
            deadline = time.monotonic() + 120
            for i, worker in enumerate(workers):
                while " ready." not in (LOG_DIR / f"detect-{i}.log").read_text(errors="replace"):
                    if worker.poll() is not None or time.monotonic() > deadline:
                        raise CommandError(f"a detect worker did not start; see {LOG_DIR / f'detect-{i}.log'}")
                    time.sleep(0.2)
            load = os.getloadavg()
            cpu_before = _cpu_seconds([w.pid for w in workers])
            started = time.perf_counter()
            for partition in range(partition_count()):
                send("monitoring.detect_telemetry", partition)
            deadline = time.monotonic() + opts["timeout"]
            while queue.exists():
                if time.monotonic() > deadline:
                    raise CommandError(f"timed out with {queue.count()} queue rows left")
                time.sleep(0.05)
            elapsed = time.perf_counter() - started
            cpu = {k: v - cpu_before.get(k, 0.0) for k, v in _cpu_seconds([w.pid for w in workers]).items()}
        finally:
            processes_stop(workers)
        scored = MetricSeries.objects.filter(service__in=services).aggregate(n=Sum("points_scored"))["n"] or 0
        self.stdout.write(
            f"{opts['workers']} detect worker process(es): {scored:,} points scored in {elapsed:.2f} s = "
            f"{scored / elapsed:,.0f} points/s (load average before {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, "
            f"after {' '.join(f'{x:.2f}' for x in os.getloadavg())}); CPU seconds: detect workers "
            f"{cpu['workers']:.1f}, PostgreSQL {cpu['postgres']:.1f}"
        )

    def _detect_backlog(self, services: list[Service], per_service: int, per_series: int) -> int:
        """Series with their points stored (COPY) and queued for detection, as the ingest drain leaves them."""
        rng = np.random.default_rng(0)
        MetricSeries.objects.bulk_create([
            MetricSeries(service=s, metric=f"metric_{j}", labels={"bench": "1"},
                         labels_hash=labels_hash('{"bench":"1"}'))
            for s in services for j in range(per_service)
        ])
        series = list(MetricSeries.objects.filter(service__in=services).order_by("pk").values_list("pk", "service_id"))
        step = 60.0
        ts = time.time() - 2 * 3600 - step * np.arange(per_series)[::-1]  # history: anomalies page nobody
        phase = rng.uniform(0, 2 * np.pi, len(series))
        values = (100 + 10 * np.sin(2 * np.pi * ts[None, :] / 86400 + phase[:, None])
                  + rng.normal(0, 1, (len(series), per_series)))
        ids = np.repeat(np.array([pk for pk, _ in series], dtype=np.int64), per_series)
        with connection.cursor() as cursor:
            with cursor.copy(f"COPY {Point._meta.db_table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(pg_copy_binary(ids, np.tile(ts, len(series)), values.reshape(-1)))
        DetectQueue.objects.bulk_create([
            DetectQueue(series_id=pk, first_ts=float(ts[0]), last_ts=float(ts[-1]), points=per_series,
                        partition=partition_of(service_id))
            for pk, service_id in series
        ])
        with connection.cursor() as cursor:
            # Statistics as a running service's tables have them (autovacuum has not seen the backlog
            # yet): without them the planner reads the points of a step with a parallel scan of the
            # whole table, and a drain's CPU is PostgreSQL's, whatever the workers.
            for model in (Point, DetectQueue, MetricSeries):
                cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")
        return len(series) * per_series

    # --- measurement ------------------------------------------------------------------------------
    def _post_and_wait(self, url, token, bodies, services, total, opts) -> tuple[float, int, int]:
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        local = threading.local()
        errors: list[str] = []
        batch_ids: list[int] = []

        def send(body: bytes) -> None:
            session = getattr(local, "session", None)
            if session is None:
                session = local.session = requests.Session()
            for _attempt in range(5):
                response = session.post(f"{url}/api/v1/telemetry", data=body, headers=headers, timeout=60)
                if response.status_code == 202:
                    batch_ids.append(response.json()["batch_id"])
                    return
                if response.status_code == 429:
                    time.sleep(float(response.headers.get("Retry-After", "1")))
                    continue
                errors.append(f"{response.status_code}: {response.text[:300]}")
                return

        service_ids = [s.pk for s in services]
        series = MetricSeries.objects.filter(service_id__in=service_ids)
        started = time.perf_counter()
        # Each sender thread owns some slices of series and posts their requests one after the
        # other in time order, as an agent would: a series' batches arrive in order.
        slices: dict[int, list[bytes]] = {}
        per_round = max(1, len(bodies) // max(1, opts["_rounds"]))
        for i, body in enumerate(bodies):
            slices.setdefault(i % per_round, []).append(body)
        lanes: list[list[bytes]] = [[] for _ in range(opts["threads"])]
        for key, requests_of_slice in slices.items():
            lanes[key % opts["threads"]].extend(requests_of_slice)
        with ThreadPoolExecutor(opts["threads"]) as pool, tqdm(total=len(bodies), desc="post", unit="req",
                                                                file=self.stderr._out) as bar:
            def send_lane(lane: list[bytes]) -> None:
                for body in lane:
                    send(body)
                    bar.update(1)

            for future in [pool.submit(send_lane, lane) for lane in lanes]:
                future.result()
        posted = time.perf_counter() - started
        if errors:
            raise CommandError(f"{len(errors)} requests failed, first: {errors[0]}")
        self.stdout.write(f"posted {total:,} points in {posted:.2f} s ({total / posted:,.0f} points/s accepted)")
        bar = tqdm(total=total, desc="scored", unit="pt", file=self.stderr._out, mininterval=1.0)
        deadline = time.monotonic() + opts["timeout"]
        while True:
            batches = TelemetryBatch.objects.filter(pk__in=batch_ids)
            pending = batches.exclude(status="stored").count()
            scored = series.aggregate(scored=Sum("points_scored"))["scored"] or 0
            queued = DetectQueue.objects.filter(series__service_id__in=service_ids).exists()
            bar.update(scored - bar.n)
            if pending == 0 and not queued and series.count() == len(service_ids) * opts["series_per_service"]:
                # Every batch is stored and no stored point waits for detection (queue rows are
                # deleted by the transaction that scores their points): done.
                break
            if time.monotonic() > deadline:
                raise CommandError(f"timed out: {pending} batches unstored, {scored:,}/{total:,} points scored")
            time.sleep(0.05)
        elapsed = time.perf_counter() - started
        bar.close()
        stored = batches.aggregate(n=Sum("stored_count"))["n"] or 0
        return elapsed, stored, scored

    def _copy_rate(self, services, keys, ts, values) -> float:
        """Binary COPY of the same (series, ts, value) rows into the points table itself (its primary
        key index and foreign key included), in one autocommitted statement: the bench's own points
        are deleted first and are the same rows again afterwards."""
        n, per_series = values.shape
        ids = {
            (name, metric): pk
            for name, metric, pk in MetricSeries.objects.filter(service__in=services).values_list(
                "service__name", "metric", "pk"
            )
        }
        series_ids = np.repeat(np.array([ids[key] for key in keys], dtype=np.int64), per_series)
        data = pg_copy_binary(series_ids, np.tile(ts, n), values.reshape(-1))
        Point.objects.filter(series_id__in=list(ids.values())).delete()
        with connection.cursor() as cursor:
            # The deleted rows' index entries have the same keys: vacuum them away so the COPY's
            # uniqueness checks do not visit dead rows (the ingest did not have them either).
            cursor.execute(f"VACUUM {Point._meta.db_table}")
            started = time.perf_counter()
            with cursor.copy(f"COPY {Point._meta.db_table} (series_id, ts, value) FROM STDIN (FORMAT BINARY)") as copy:
                copy.write(data)
            elapsed = time.perf_counter() - started
        return series_ids.shape[0] / elapsed

    def _cleanup(self, run: str, services, integration) -> None:
        TelemetryBatch.objects.filter(integration=integration).delete()
        for service in services:
            service.delete()  # cascades to series, points, anomalies
        integration.delete()
        Team.objects.filter(name="Benchmarks", services__isnull=True).delete()


def _cpu_seconds(worker_pids: list[int]) -> dict[str, float]:
    """CPU seconds so far of the worker processes (and their pool children) and of the PostgreSQL
    backends on this machine serving this database."""
    tick = os.sysconf("SC_CLK_TCK")
    database = f" {settings.DATABASES['default']['NAME']} ".encode()
    workers = postgres = 0.0
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                name, rest = f.read().rsplit(")", 1)
        except OSError:
            continue
        fields = rest.split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        if int(entry) in worker_pids or int(fields[1]) in worker_pids:
            workers += seconds
        elif name.endswith("(postgres"):
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    mine = database in f.read()
            except OSError:
                continue
            postgres += seconds if mine else 0.0
    return {"workers": workers, "postgres": postgres}
