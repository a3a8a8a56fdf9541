"""`manage.py bench_predict`: p50/p99 of POST /predict for batches of 100 real records (nothing is kept)."""
from __future__ import annotations

import os
import time
from datetime import timedelta

import numpy as np
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from rest_framework.test import APIClient
from tqdm import tqdm

from core.choices import IntegrationKind
from core.services import integration_create
from models_registry import selectors
from models_registry.exceptions import ModelNotFound
from models_registry.pipelines import get_pipeline
from models_registry.services.serving import fitted_cache_clear


class _Rollback(Exception):
    """Raised to roll the benchmark's prediction logs and token back."""


class Command(BaseCommand):
    help = "Time the prediction API (auth, validation, features, model, logging) for batches of records."

    def add_arguments(self, parser):
        parser.add_argument("--model", default="journey-time")
        parser.add_argument("--batch-size", type=int, default=100)
        parser.add_argument("--requests", type=int, default=200)

    def handle(self, *args, model: str, batch_size: int, requests: int, **options):
        try:
            registered = selectors.model_get_by_name(name=model)
        except ModelNotFound as exc:
            raise CommandError(f"{exc.message} (run `manage.py demo` or `retrain` first)") from None
        champion = selectors.model_champion(model=registered)
        if champion is None:
            raise CommandError(f"model {model!r} has no champion; run `manage.py retrain {model}` first")
        pipeline = get_pipeline(registered.pipeline)
        # Journeys from the two weeks after the champion's holdout: what it would serve next.
        raw = pipeline.load(start=champion.holdout_end, end=champion.holdout_end + timedelta(days=14)).frame
        if len(raw) < batch_size:
            raw = pipeline.load(start=champion.holdout_start, end=champion.holdout_end).frame
        records = pipeline.records_from_frame(raw)
        if len(records) < batch_size:
            raise CommandError(f"only {len(records)} records available for a batch of {batch_size}")
        rng = np.random.default_rng(0)
        timings: list[float] = []
        cpu: list[float] = []
        server: list[float] = []
        fitted_cache_clear()
        try:
            with transaction.atomic():
                _, token = integration_create(kind=IntegrationKind.MODEL, name="bench_predict (rolled back)")
                client = APIClient()
                client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
                url = f"/api/v1/models/{registered.name}/predict"
                warm = client.post(url, {"records": records[:batch_size]}, format="json")  # loads + caches the model
                if warm.status_code != 200:
                    raise CommandError(f"predict answered {warm.status_code}: {warm.content[:300]!r}")
                for _ in tqdm(range(requests), desc="predict", unit="req", file=self.stderr._out):
                    start = int(rng.integers(0, len(records) - batch_size + 1))
                    body = {"records": records[start:start + batch_size]}
                    began, began_cpu = time.perf_counter(), time.process_time()
                    response = client.post(url, body, format="json")
                    timings.append((time.perf_counter() - began) * 1000.0)
                    cpu.append((time.process_time() - began_cpu) * 1000.0)
                    if response.status_code != 200:
                        raise CommandError(f"predict answered {response.status_code}: {response.content[:300]!r}")
                    server.append(response.json()["latency_ms"])
                raise _Rollback
        except _Rollback:
            pass
        total = np.asarray(timings)
        model_only = np.asarray(server)
        self.stdout.write(
            f"{registered.name} v{champion.version}: {requests} requests x {batch_size} records "
            f"(auth + validation + features + model + prediction log insert)"
        )
        self.stdout.write(
            f"  request  p50 {np.percentile(total, 50):.1f} ms  p95 {np.percentile(total, 95):.1f} ms  "
            f"p99 {np.percentile(total, 99):.1f} ms  max {total.max():.1f} ms"
        )
        cpu_ms = np.asarray(cpu)
        # CPU time is what the request costs this process; wall time adds waiting for a shared CPU.
        self.stdout.write(
            f"  cpu      p50 {np.percentile(cpu_ms, 50):.1f} ms  p99 {np.percentile(cpu_ms, 99):.1f} ms"
            f"  (load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs while measuring)"
        )
        self.stdout.write(
            f"  features+model  p50 {np.percentile(model_only, 50):.1f} ms  p99 {np.percentile(model_only, 99):.1f} ms"
        )
        verdict = "within" if np.percentile(total, 99) < 50 else "ABOVE"
        self.stdout.write(f"  p99 {verdict} the 50 ms target")
