"""Benchmark: generate a year of logged predictions for two models (default 1,000,000 each) with monthly costs,
then time the ROI report over that year. Run it on a database of its own (DATABASE_URL=...bench_<id>)."""
from __future__ import annotations

import statistics
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import numpy as np
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from tqdm import tqdm

from core.services import service_get_or_create, team_get_or_create
from models_registry.choices import CostCategory, CostSource, ModelTask
from models_registry.models import CostEntry, ModelEconomics, ModelVersion, PredictionLog, RegisteredModel
from models_registry.reports import roi_report
from models_registry.services import registered_model_get_or_create
from models_registry.services.costs import month_add

TARGET_SECONDS = 5.0  # issue 11: a year, 2 models x 1,000,000 logged predictions, under 5 s
YEAR_START = datetime(2021, 1, 1, tzinfo=UTC)
BATCH = 5_000  # rows per INSERT: large enough to amortise the round trip, small enough for SQLite's limits


class Command(BaseCommand):
    help = "Generate (once) a year of predictions for two bench models and time roi_report over the year."

    def add_arguments(self, parser):
        parser.add_argument("--predictions", type=int, default=1_000_000, help="Per model.")
        parser.add_argument("--repeat", type=int, default=3)
        parser.add_argument("--seed", type=int, default=11)

    def handle(self, *args, predictions: int, repeat: int, seed: int, **options):
        rng = np.random.default_rng(seed)
        team = team_get_or_create(name="bench-roi")
        service = service_get_or_create(name="bench-roi-service", team=team)
        models = [
            registered_model_get_or_create(name=name, pipeline=pipeline, team=team, service=service)
            for name, pipeline in (
                ("bench-roi-journey", "flights.journey_time"), ("bench-roi-stuck", "flights.stuck_journey")
            )
        ]
        for model in models:
            self._ledger(model=model)
        counts = [PredictionLog.objects.filter(model=m).count() for m in models]
        if min(counts) >= predictions:
            self.stdout.write(f"{', '.join(m.name for m in models)}: {sum(counts):,} predictions already there")
        else:
            self._generate(models=models, n=predictions, rng=rng)
        end = month_add(YEAR_START, 12)
        timings = []
        report = None
        for _ in range(max(repeat, 1)):
            started = time.perf_counter()
            report = roi_report(start=YEAR_START, end=end)
            timings.append(time.perf_counter() - started)
        assert report is not None
        counted = sum(m.predictions for m in report.models)
        best, median = min(timings), statistics.median(timings)
        self.stdout.write(
            f"roi_report over {YEAR_START:%Y-%m}..{end:%Y-%m}: {len(report.models)} models, {counted:,} predictions; "
            f"best {best:.2f} s, median {median:.2f} s over {len(timings)} runs "
            f"(target < {TARGET_SECONDS:.0f} s: {'OK' if median < TARGET_SECONDS else 'MISSED'})"
        )
        for row in report.models:
            self.stdout.write(f"  {row.model}: cost {row.cost:.2f}, value {row.value:.2f}, ROI {row.roi}")

    def _ledger(self, *, model: RegisteredModel) -> None:
        ModelEconomics.objects.update_or_create(model=model, defaults={
            "value_accurate": Decimal("0.05"), "cost_optimistic": Decimal("0.40"), "cost_conservative": Decimal("0.20"),
            "value_tp": Decimal("2"), "value_fp": Decimal("-0.5"), "value_fn": Decimal("-1"), "roi_target": 0.2,
            "monthly_budget": Decimal("4000"),
        })
        with transaction.atomic():
            CostEntry.objects.filter(model=model).delete()
            CostEntry.objects.bulk_create([
                CostEntry(model=model, category=category, period_start=month_add(YEAR_START, m),
                          period_end=month_add(YEAR_START, m + 1), amount=Decimal(str(amount + 40 * m)),
                          currency="EUR", source=CostSource.DEMO)
                for m in range(12)
                for category, amount in ((CostCategory.INFRA_COMPUTE, 1500), (CostCategory.DATA_STORAGE, 300))
            ])

    def _generate(self, *, models: list[RegisteredModel], n: int, rng: np.random.Generator) -> None:
        """Logs as serving writes them: both models interleaved, in time order, a month at a time."""
        PredictionLog.objects.filter(model__in=models).delete()
        versions = [
            ModelVersion.objects.filter(model=model).first() or ModelVersion.objects.create(
                model=model, version=1, data_fingerprint="0" * 64, train_start=YEAR_START - timedelta(days=30),
                train_end=YEAR_START - timedelta(days=7), holdout_start=YEAR_START - timedelta(days=7),
                holdout_end=YEAR_START, code_version="bench", artifact_path="bench", artifact_sha256="0" * 64,
            )
            for model in models
        ]
        # Plain INSERTs through the cursor: building a million model instances costs more than the writes.
        adapt = connection.ops.adapt_datetimefield_value
        table = connection.ops.quote_name(PredictionLog._meta.db_table)
        sql = (f"INSERT INTO {table} (model_id, version_id, request_id, features, prediction, latency_ms, "
               "created_at, actual) VALUES (%s, %s, %s, %s, %s, %s, %s, %s)")
        progress = tqdm(total=n * len(models), desc="predictions", unit="row", unit_scale=True)
        for m in range(12):
            per_month = n // 12 + (1 if m < n % 12 else 0)
            start = month_add(YEAR_START, m)
            span = (month_add(YEAR_START, m + 1) - start).total_seconds()
            which = np.repeat(np.arange(len(models)), per_month)
            offsets = rng.uniform(0, span, which.size)
            order = np.argsort(offsets)
            which, offsets = which[order], offsets[order]
            score = rng.random(which.size)
            delay = rng.normal(10, 20, which.size)
            for lo in range(0, which.size, BATCH):
                rows = []
                for i in range(lo, min(lo + BATCH, which.size)):
                    model, version = models[which[i]], versions[which[i]]
                    regression = model.task == ModelTask.REGRESSION
                    predicted = float(delay[i]) if regression else float(score[i])
                    actual = predicted + float(rng.normal(0, 15)) if regression else float(rng.random() < score[i])
                    rows.append((model.pk, version.pk, f"{model.name}-{m}-{i}", "{}", predicted, 1.0,
                                 adapt(start + timedelta(seconds=float(offsets[i]))),
                                 actual if i % 5 else None))  # a fifth still without actuals
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.executemany(sql, rows)
                progress.update(len(rows))
        progress.close()
