"""`manage.py bench_predict`: client-observed latency of POST /predict over HTTP for batches of 100 real records.

Starts gunicorn (one sync worker, as `core.bench` does for the other benchmarks) against the same
database, posts batches one after the other, and reports the latency the client sees (connect, send,
auth, validation, features, model, prediction-log insert and commit, response) and the CPU the
server spends per request. The prediction logs and the token it creates are deleted at the end.
"""
from __future__ import annotations

import os
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import orjson
import requests as http
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from tqdm import tqdm

from core.bench import LOG_DIR, BenchProcessError, gunicorn_start, processes_stop
from core.choices import IntegrationKind
from core.models import Integration
from core.services import integration_create
from models_registry import selectors
from models_registry.exceptions import ModelNotFound
from models_registry.models import ModelVersion, PredictionLog, ShadowPredictionLog
from models_registry.pipelines import get_pipeline
from models_registry.services.shadow import shadow_set

_TICK_MS = 1000.0 / os.sysconf("SC_CLK_TCK")


class Command(BaseCommand):
    help = "Time POST /predict over HTTP (gunicorn): auth, validation, features, model, logging, commit."

    def add_arguments(self, parser):
        parser.add_argument("--model", default="journey-time")
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--requests", type=int, default=200)
        parser.add_argument("--warmup", type=int, default=10, help="requests before measuring (model load, caches)")
        parser.add_argument(
            "--shadow", action="store_true",
            help="put the newest non-champion version in shadow for the run (scored after each answer, logged apart)",
        )

    def handle(self, *args, model: str, batch_size: int, requests: int, warmup: int, shadow: bool, **options):
        try:
            registered = selectors.model_get_by_name(name=model)
        except ModelNotFound as exc:
            raise CommandError(f"{exc.message} (run `manage.py demo` or `retrain` first)") from None
        champion = selectors.model_champion(model=registered)
        if champion is None:
            raise CommandError(f"model {model!r} has no champion; run `manage.py retrain {model}` first")
        shadow_version = None
        if shadow:
            shadow_version = ModelVersion.objects.filter(model=registered).exclude(pk=champion.pk).order_by(
                "-version").first()
            if shadow_version is None:
                raise CommandError(f"model {model!r} has no version besides the champion to shadow; "
                                   f"run `manage.py retrain {model}` first")
        previous_shadow = registered.shadow
        pipeline = get_pipeline(registered.pipeline)
        # Journeys from the two weeks after the champion's holdout: what it would serve next.
        raw = pipeline.load(start=champion.holdout_end, end=champion.holdout_end + timedelta(days=14)).frame
        if len(raw) < batch_size:
            raw = pipeline.load(start=champion.holdout_start, end=champion.holdout_end).frame
        records = pipeline.records_from_frame(raw)
        if len(records) < batch_size:
            raise CommandError(f"only {len(records)} records available for a batch of {batch_size}")
        rng = np.random.default_rng(0)
        starts = rng.integers(0, len(records) - batch_size + 1, size=warmup + requests)
        # Encoded up front: the client's own JSON encoding is not the service's latency.
        bodies = [orjson.dumps({"records": records[s:s + batch_size]}) for s in starts]

        integration, token = integration_create(kind=IntegrationKind.MODEL, name="bench_predict (deleted after)")
        request_ids: list[str] = []
        web = None
        shadow_logged = 0
        try:
            if shadow_version is not None:
                shadow_set(model=registered, version=shadow_version)
            try:
                base, web = gunicorn_start(workers=1, log_name="bench_predict.log")
            except BenchProcessError as exc:
                raise CommandError(str(exc)) from None
            url = f"{base}/api/v1/models/{registered.name}/predict"
            session = http.Session()
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

            def post(body: bytes) -> dict:
                response = session.post(url, data=body, headers=headers, timeout=30)
                if response.status_code != 200:
                    raise CommandError(f"predict answered {response.status_code}: {response.content[:300]!r}")
                answer = response.json()
                request_ids.extend(p["request_id"] for p in answer["predictions"])
                return answer

            for body in bodies[:warmup]:
                post(body)
            server = _ServerCpu(web.pid)
            timings: list[float] = []
            scoring: list[float] = []
            cpu_before = server.ms()
            for body in tqdm(bodies[warmup:], desc="predict", unit="req", file=self.stderr._out):
                began = time.perf_counter()
                answer = post(body)
                timings.append((time.perf_counter() - began) * 1000.0)
                scoring.append(answer["latency_ms"])
            (worker_after, db_after), (worker_before, db_before) = server.ms(), cpu_before
            worker_cpu = (worker_after - worker_before) / requests
            db_cpu = (db_after - db_before) / requests if db_after is not None and db_before is not None else None
            load = os.getloadavg()
            if shadow_version is not None:
                deadline = time.monotonic() + 30  # the shadow thread may still be scoring the last requests
                while time.monotonic() < deadline:
                    shadow_logged = ShadowPredictionLog.objects.filter(request_id__in=request_ids).count()
                    if shadow_logged >= len(request_ids):
                        break
                    time.sleep(0.2)
        finally:
            if web is not None:
                processes_stop([web])
            if shadow_version is not None:
                shadow_set(model=registered, version=previous_shadow)
                for start in range(0, len(request_ids), 5_000):
                    ShadowPredictionLog.objects.filter(request_id__in=request_ids[start:start + 5_000]).delete()
            for start in range(0, len(request_ids), 5_000):
                PredictionLog.objects.filter(request_id__in=request_ids[start:start + 5_000]).delete()
            Integration.objects.filter(pk=integration.pk).delete()

        total = np.asarray(timings)
        model_only = np.asarray(scoring)
        self.stdout.write(
            f"{registered.name} v{champion.version}: {requests} requests x {batch_size} records over HTTP "
            f"(gunicorn, 1 sync worker, {connection.vendor}; auth + validation + features + model + "
            f"prediction log insert + commit{'; shadow on' if shadow_version is not None else ''})"
        )
        self.stdout.write(
            f"  request  p50 {np.percentile(total, 50):.1f} ms  p95 {np.percentile(total, 95):.1f} ms  "
            f"p99 {np.percentile(total, 99):.1f} ms  max {total.max():.1f} ms  (client-observed)"
        )
        # CPU time is what a request costs; wall time adds waiting for a shared CPU and for the disk.
        self.stdout.write(
            f"  server cpu  {worker_cpu:.1f} ms/request in the gunicorn worker"
            + (f" + {db_cpu:.1f} ms in its PostgreSQL backend" if db_cpu is not None else "")
            + f"  (load average {load[0]:.1f} on {os.cpu_count()} CPUs)"
        )
        if shadow_version is not None:
            self.stdout.write(
                f"  shadow v{shadow_version.version} in place: {shadow_logged}/{len(request_ids)} records scored in "
                f"shadow and logged apart (after each answer, on the worker's shadow thread)"
            )
        self.stdout.write(
            f"  features+model  p50 {np.percentile(model_only, 50):.2f} ms  p99 {np.percentile(model_only, 99):.2f} ms"
        )
        verdict = "within" if np.percentile(total, 99) < 50 else "ABOVE"
        self.stdout.write(f"  p99 {verdict} the 50 ms target; gunicorn log in {LOG_DIR / 'bench_predict.log'}")


class _ServerCpu:
    """CPU time of gunicorn's worker and of the PostgreSQL backend serving it, from /proc (clock ticks)."""

    def __init__(self, master_pid: int):
        workers = _children(master_pid)
        if len(workers) != 1:
            raise CommandError(f"expected one gunicorn worker under pid {master_pid}, found {workers}")
        self.worker = workers[0]
        backends = _backend_pids() if connection.vendor == "postgresql" else []
        self.backend = backends[0] if len(backends) == 1 else None  # several: cannot tell which is the worker's

    def ms(self) -> tuple[float, float | None]:
        worker = _cpu_ms(self.worker)
        if worker is None:
            raise CommandError("the gunicorn worker exited during the benchmark")
        return worker, _cpu_ms(self.backend) if self.backend is not None else None


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _backend_pids() -> list[int]:
    """Other client backends on this database: the worker's (a bench database holds no one else's)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid() "
            "AND backend_type = 'client backend'"
        )
        return [row[0] for row in cursor.fetchall()]


def _cpu_ms(pid: int) -> float | None:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:  # another host's PostgreSQL, or the process is gone
        return None
    return (int(fields[11]) + int(fields[12])) * _TICK_MS  # utime + stime
