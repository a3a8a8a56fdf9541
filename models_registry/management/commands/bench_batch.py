"""`manage.py bench_batch`: batch-scoring throughput of one worker process, end to end (read, check, score, write).

Writes a file of real journeys (repeated to --rows), stores it as an upload would (header check
and row count included), then runs the job in this process exactly as a `training` worker does:
chunked read, vectorised validation, features, compiled trees, Parquet result, rename, job row.
The job, its input and its result are deleted at the end.
"""
from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from models_registry import selectors
from models_registry.artifacts import artifact_root
from models_registry.choices import BatchJobStatus
from models_registry.exceptions import ModelNotFound
from models_registry.models import BatchScoringJob
from models_registry.pipelines import get_pipeline
from models_registry.services import batch as batch_services

TARGET_ROWS_PER_MINUTE = 500_000


class Command(BaseCommand):
    help = "Time a batch-scoring job end to end in this process and print rows per minute."

    def add_arguments(self, parser):
        parser.add_argument("--model", default="journey-time")
        parser.add_argument("--rows", type=int, default=1_000_000)
        parser.add_argument("--format", dest="fmt", choices=["csv", "parquet"], default="csv")

    def handle(self, *args, model: str, rows: int, fmt: str, **options):
        try:
            registered = selectors.model_get_by_name(name=model)
        except ModelNotFound as exc:
            raise CommandError(f"{exc.message} (run `manage.py demo` or `retrain` first)") from None
        champion = selectors.model_champion(model=registered)
        if champion is None:
            raise CommandError(f"model {model!r} has no champion; run `manage.py retrain {model}` first")
        pipeline = get_pipeline(registered.pipeline)
        raw = pipeline.load(start=champion.holdout_end, end=champion.holdout_end + timedelta(days=30)).frame
        if raw.empty:
            raw = pipeline.load(start=champion.holdout_start, end=champion.holdout_end).frame
        frame = pd.DataFrame({spec.name: raw[spec.name] for spec in pipeline.inputs})
        frame["scheduled_departure"] = frame["scheduled_departure"].dt.strftime("%Y-%m-%dT%H:%M:%S")
        frame = frame.iloc[np.resize(np.arange(len(frame)), rows)].reset_index(drop=True)
        frame.insert(0, "journey_id", np.arange(rows).astype(str))
        self.stdout.write(f"writing {rows} journeys as {fmt} (not timed)…")
        handle, name = tempfile.mkstemp(suffix=f".{fmt}")
        os.close(handle)
        path = Path(name)
        job = None
        try:
            if fmt == "csv":
                frame.to_csv(path, index=False)
            else:
                frame.to_parquet(path, index=False)
            size = path.stat().st_size
            began = time.perf_counter()
            with open(path, "rb") as source:
                job = batch_services.batch_job_create_from_upload(
                    model=registered, upload=source, filename=path.name, size=size, enqueue=False
                )
            stored = time.perf_counter() - began
            with tqdm(total=rows, desc="score", unit="row", unit_scale=True, file=self.stderr._out) as bar:
                def progress(done: int, total: int) -> None:
                    bar.update(done - bar.n)

                job = batch_services.batch_job_execute(job_id=job.pk, progress=progress)
            total = time.perf_counter() - began
            if job.status != BatchJobStatus.SUCCEEDED:
                raise CommandError(f"batch job failed: {job.error}")
            load = os.getloadavg()
            per_minute = rows / total * 60
            self.stdout.write(
                f"{registered.name} v{champion.version}: {rows} rows, {size / 1e6:.0f} MB {fmt}, one process "
                f"(load average {load[0]:.1f} on {os.cpu_count()} CPUs)"
            )
            self.stdout.write(f"  upload store + header check + row count {stored:.2f} s; "
                              f"job (read, check, features, score, write Parquet) {job.seconds:.2f} s")
            verdict = "meets" if per_minute >= TARGET_ROWS_PER_MINUTE else "BELOW"
            self.stdout.write(f"  throughput {per_minute:,.0f} rows/min end to end ({verdict} the "
                              f"{TARGET_ROWS_PER_MINUTE:,} rows/min target)")
        finally:
            path.unlink(missing_ok=True)
            if job is not None:
                for relative in (job.input_path, job.result_path):
                    if relative:
                        (artifact_root() / relative).unlink(missing_ok=True)
                BatchScoringJob.objects.filter(pk=job.pk).delete()
