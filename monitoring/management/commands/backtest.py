"""Replay CSV histories (timestamp,value) through a detector and write per-point anomaly scores."""

from __future__ import annotations

import time
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from monitoring.detection.backtest import CHUNK, BacktestInputError, backtest_run
from monitoring.detection.registry import UnknownDetector, detector_names


class Command(BaseCommand):
    help = "Score every CSV below --input with a detector (same code path as live ingestion) into --output."

    def add_arguments(self, parser):
        parser.add_argument(
            "--input",
            required=True,
            help="folder with timestamp,value CSV files (searched recursively)",
        )
        parser.add_argument(
            "--output", required=True, help="folder for the scored CSVs (same relative paths)"
        )
        parser.add_argument(
            "--detector", default=None, help=f"detector name; known: {', '.join(detector_names())}"
        )
        parser.add_argument(
            "--chunk",
            type=int,
            default=CHUNK,
            help="points per live-sized batch (state persisted between)",
        )

    def handle(self, *args, **opts):
        input_dir = Path(opts["input"])
        if not input_dir.is_dir():
            raise CommandError(f"--input {input_dir} is not a folder")
        if opts["chunk"] < 1:
            raise CommandError("--chunk must be at least 1")
        bar = tqdm(
            unit="pt", unit_scale=True, desc="backtest", disable=opts.get("verbosity", 1) == 0
        )
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            report = backtest_run(
                input_dir=input_dir,
                output_dir=Path(opts["output"]),
                detector_name=opts["detector"],
                chunk=opts["chunk"],
                progress=bar.update,
                on_total=lambda n: setattr(bar, "total", n),
            )
        except (BacktestInputError, UnknownDetector) as exc:
            raise CommandError(
                str(exc.args[0] if isinstance(exc, UnknownDetector) else exc)
            ) from exc
        finally:
            bar.close()
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu_started
        self.stdout.write(
            f"detector={report.detector} threshold={report.threshold:g} files={report.files} points={report.points} "
            f"anomalies={report.anomalies}\n"
            f"scoring {report.points_per_second:,.0f} points/s wall, "
            f"{report.points_per_cpu_second:,.0f} points/s per CPU second "
            f"({report.seconds:.2f} s, after a one-off "
            f"{report.warmup_seconds:.2f} s JIT load); "
            f"end to end incl. CSV read/write {report.points / wall:,.0f} points/s wall "
            f"({wall:.2f} s), {report.points / cpu:,.0f} points/s per CPU second"
        )
