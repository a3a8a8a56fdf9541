"""Benchmark: time a full drift report (PSI + KS per feature) on synthetic numeric data."""
from __future__ import annotations

import statistics
import time

import numpy as np
from django.core.management.base import BaseCommand

from models_registry.monitoring.drift import drift_report

TARGET_SECONDS = 1.0  # issue 7: 100k rows x 20 numeric features in under 1 s on one core


class Command(BaseCommand):
    help = "Time a drift report of a current sample against a reference (default 100,000 rows x 20 features)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=100_000)
        parser.add_argument("--features", type=int, default=20)
        parser.add_argument("--repeat", type=int, default=5)
        parser.add_argument("--seed", type=int, default=7)

    def handle(self, *args, rows: int, features: int, repeat: int, seed: int, **options):
        rng = np.random.default_rng(seed)
        reference = {f"f{i:02d}": rng.normal(0.0, 1.0, rows) for i in range(features)}
        # The current sample drifts more with each feature (0 .. 0.5 sd shift, growing spread),
        # so the report has a mix of clean, moderate and drifted features like a real month.
        current = {
            f"f{i:02d}": rng.normal(0.5 * i / max(features - 1, 1), 1.0 + 0.02 * i, rows) for i in range(features)
        }
        timings = []
        report = None
        for _ in range(max(repeat, 1)):
            started = time.perf_counter()
            report = drift_report(reference=reference, current=current)
            timings.append(time.perf_counter() - started)
        assert report is not None
        best, median = min(timings), statistics.median(timings)
        self.stdout.write(
            f"drift report: {rows:,} rows x {features} numeric features (reference and current), "
            f"{len(timings)} runs"
        )
        self.stdout.write(f"  best {best:.3f} s   median {median:.3f} s   (target < {TARGET_SECONDS:.1f} s)")
        self.stdout.write(
            f"  drifted features: {len(report.drifted)}/{len(report.features)}   max PSI {report.max_psi:.3f}"
        )
        style = self.style.SUCCESS if median < TARGET_SECONDS else self.style.ERROR
        self.stdout.write(style("OK" if median < TARGET_SECONDS else "TOO SLOW"))
