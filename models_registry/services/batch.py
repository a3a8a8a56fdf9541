"""Batch scoring (issue #14): a file (CSV / Parquet) or the open journeys, scored with the champion as a job.

The job runs on the `training` queue: it is CPU-bound and runs for minutes on big files, exactly the
work that queue's workers are sized and time-limited for, and it must never sit in front of the
short monitor and housekeeping tasks on `default`.

Rows are read, checked and scored in chunks (progress is stored after each). Bad rows are listed
by their 1-based data row number and left out; the rest are scored. The result set is written to a
temporary Parquet file and renamed into place only when the last chunk is done, in the step that
marks the job succeeded: a failed job keeps its progress and error, never a partial result.
"""
from __future__ import annotations

import csv
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
from django.conf import settings
from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone
from threadpoolctl import threadpool_limits

from core.enqueue import enqueue as enqueue_task
from core.exceptions import InvalidInput

from .. import selectors
from ..artifacts import artifact_root
from ..choices import BatchJobSource, BatchJobStatus
from ..exceptions import BatchFileTooLarge, NoChampion
from ..models import BatchScoringJob, ModelVersion, RegisteredModel
from ..pipelines import FittedModel, Pipeline, get_pipeline
from ..pipelines.base import InputField
from ..pipelines.flights import LOCAL_TZ
from .at_risk import at_risk_entries_store
from .batch_journeys import score_open_journeys
from .serving import fitted_model_for

logger = logging.getLogger(__name__)

FORMATS = ("csv", "parquet")
ID_COLUMN = "journey_id"  # optional pass-through column that identifies a row in the caller's system
MAX_BAD_ROWS_LISTED = 1_000  # the job row lists this many bad rows; the count covers all of them
_TZ_SUFFIX = re.compile(r"(?:Z|[+-]\d\d:?\d\d)$")
Progress = Callable[[int, int], None]
REAPER_GRACE = timedelta(seconds=120)  # the hard Celery limit fires 60 s after the soft one, then FAILED is recorded
QUEUED_TIMEOUT = timedelta(hours=6)  # the next daily pass queues a fresh list anyway


@dataclass(frozen=True, slots=True, kw_only=True)
class ScoredChunk:
    positions: np.ndarray  # 0-based row positions in the chunk that were scored
    raw: pd.DataFrame  # the valid raw rows (scheduled_departure as local datetime64)
    scores: np.ndarray
    bad: list[dict[str, Any]]


def batch_dir() -> Path:
    return artifact_root() / "batch"


# ---- creating jobs ------------------------------------------------------------------------------

def batch_job_create_from_upload(
    *, model: RegisteredModel, upload: BinaryIO, filename: str, size: int, requested_by: User | None = None,
    enqueue: bool = True,
) -> BatchScoringJob:
    """Check the file (size, format, header, not empty), store it and queue the job; 4xx with the reason."""
    _champion_or_raise(model=model)
    limit = settings.BATCH_SCORING_MAX_BYTES
    if size > limit:
        raise BatchFileTooLarge(f"the file has {size} bytes; the limit is {limit} (BATCH_SCORING_MAX_BYTES)",
                                field="file")
    if size == 0:
        raise InvalidInput("the file is empty", field="file")
    fmt = _format_of(filename)
    target = batch_dir() / "inputs" / f"{uuid.uuid4().hex}.{fmt}"
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(target, "wb") as out:
        while chunk := upload.read(1 << 20):
            out.write(chunk)
    try:
        rows = _check_file(path=target, fmt=fmt, pipeline=get_pipeline(model.pipeline))
    except Exception:
        target.unlink(missing_ok=True)
        raise
    job = BatchScoringJob.objects.create(
        model=model, source=BatchJobSource.FILE, input_path=str(target.relative_to(artifact_root())),
        input_format=fmt, input_name=filename[:255], rows_total=rows, requested_by=requested_by,
    )
    if enqueue:
        enqueue_task("models_registry.batch_score", job.pk)
    return job


def batch_job_create_open_journeys(
    *, model: RegisteredModel, as_of: datetime | None = None, requested_by: User | None = None, enqueue: bool = True,
) -> BatchScoringJob:
    """Queue scoring of the journeys open at `as_of` (departing within AT_RISK_HORIZON_HOURS)."""
    _champion_or_raise(model=model)
    if as_of is None:
        as_of = default_open_as_of(model=model)
    elif timezone.is_naive(as_of):
        as_of = timezone.make_aware(as_of, timezone.get_current_timezone())
    job = BatchScoringJob.objects.create(
        model=model, source=BatchJobSource.OPEN_JOURNEYS, as_of=as_of, requested_by=requested_by
    )
    if enqueue:
        enqueue_task("models_registry.batch_score", job.pk)
    return job


def default_open_as_of(*, model: RegisteredModel) -> datetime:
    """Now, or (historical reference data) the day after the champion's holdout: what it would face next."""
    champion = selectors.model_champion(model=model)
    first, last = get_pipeline(model.pipeline).data_range()
    now = timezone.now()
    if first <= now <= last:
        return now
    start = champion.holdout_end if champion is not None else last
    return start


def batch_schedule_daily(*, now: datetime | None = None) -> list[BatchScoringJob]:
    """The daily beat pass: an open-journeys job for the at-risk model, unless one is queued or running."""
    jobs = []
    for name in (settings.AT_RISK_MODEL,):
        model = RegisteredModel.objects.filter(name=name).first()
        if model is None or selectors.model_champion(model=model) is None:
            logger.info("daily at-risk list: model %r missing or without champion, skipped", name)
            continue
        if BatchScoringJob.objects.filter(
            model=model, source=BatchJobSource.OPEN_JOURNEYS, status__in=(BatchJobStatus.QUEUED, BatchJobStatus.RUNNING)
        ).exists():
            continue
        as_of = now if now is not None else None
        jobs.append(batch_job_create_open_journeys(model=model, as_of=as_of))
    return jobs


def batch_jobs_reap(*, now: datetime | None = None) -> int:
    """Fail jobs whose worker died (running past the task's hard limit) or that nobody picked up."""
    now = now or timezone.now()
    limit = timedelta(seconds=settings.MODEL_TRAINING_TIME_LIMIT) + REAPER_GRACE
    running = BatchScoringJob.objects.filter(status=BatchJobStatus.RUNNING, started_at__lt=now - limit).update(
        status=BatchJobStatus.FAILED, finished_at=now, error="reaped: the worker stopped mid-job (progress kept)"
    )
    queued = BatchScoringJob.objects.filter(status=BatchJobStatus.QUEUED, created_at__lt=now - QUEUED_TIMEOUT).update(
        status=BatchJobStatus.FAILED, finished_at=now, error="reaped: never picked up by a training worker"
    )
    return running + queued


def _champion_or_raise(*, model: RegisteredModel) -> ModelVersion:
    champion = selectors.model_champion(model=model)
    if champion is None:
        raise NoChampion(f"model {model.name!r} has no champion to score with; train one first")
    return champion


def _format_of(filename: str) -> str:
    suffix = Path(filename).suffix.lower().lstrip(".")
    if suffix == "pq":
        suffix = "parquet"
    if suffix not in FORMATS:
        raise InvalidInput(f"unsupported file type {suffix or '(none)'!r}; send .csv or .parquet", field="file")
    return suffix


def expected_columns(pipeline: Pipeline) -> list[str]:
    return [spec.name for spec in pipeline.inputs]


def _check_header(columns: list[str], pipeline: Pipeline) -> None:
    expected = expected_columns(pipeline)
    missing = [c for c in expected if c not in columns]
    unknown = [c for c in columns if c not in expected and c != ID_COLUMN]
    duplicated = sorted({c for c in columns if columns.count(c) > 1})
    problems = []
    if missing:
        problems.append(f"missing column(s) {missing}")
    if unknown:
        problems.append(f"unknown column(s) {unknown}")
    if duplicated:
        problems.append(f"duplicated column(s) {duplicated}")
    if problems:
        raise InvalidInput(
            f"wrong header: {'; '.join(problems)}; expected {expected} (+ optional {ID_COLUMN!r}); nothing scored",
            field="file",
        )


def _check_file(*, path: Path, fmt: str, pipeline: Pipeline) -> int:
    """Header right and at least one data row; returns the row count (CSV: data lines)."""
    if fmt == "parquet":
        try:
            meta = pq.ParquetFile(path)
        except Exception as exc:  # noqa: BLE001  not a Parquet file at all
            raise InvalidInput(f"not a readable Parquet file: {exc}", field="file") from None
        _check_header(list(meta.schema_arrow.names), pipeline)
        rows = int(meta.metadata.num_rows)
    else:
        with open(path, "rb") as handle:
            header = handle.readline().decode("utf-8-sig", errors="replace").strip()
            _check_header([c.strip() for c in next(csv.reader([header]))] if header else [], pipeline)
            rows = sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n" and handle.tell() > len(header) + 1:
                rows += 1  # last line without a newline
    if rows == 0:
        raise InvalidInput("the file has a header but no rows", field="file")
    return rows


# ---- running jobs --------------------------------------------------------------------------------

def batch_job_execute(*, job_id: int, progress: Progress | None = None) -> BatchScoringJob:
    """Claim a queued job and carry it to succeeded (result set in place) or failed (error, progress kept)."""
    claimed = BatchScoringJob.objects.filter(pk=job_id, status=BatchJobStatus.QUEUED).update(
        status=BatchJobStatus.RUNNING, started_at=timezone.now()
    )
    job = BatchScoringJob.objects.select_related("model").get(pk=job_id)
    if not claimed:
        return job
    began = time.perf_counter()
    tmp: Path | None = None
    try:
        champion = _champion_or_raise(model=job.model)
        BatchScoringJob.objects.filter(pk=job.pk).update(version=champion)
        final = batch_dir() / "results" / f"job-{job.pk}.parquet"
        final.parent.mkdir(parents=True, exist_ok=True)
        tmp = final.with_suffix(".parquet.tmp")
        with threadpool_limits(limits=1, user_api="openmp"):
            if job.source == BatchJobSource.FILE:
                counts = _score_file(job=job, champion=champion, tmp=tmp, progress=progress)
                at_risk = None
            else:
                counts, at_risk = score_open_journeys(job=job, champion=champion, tmp=tmp)
        if counts["scored"] == 0:
            raise InvalidInput(f"no valid rows to score ({counts['bad_count']} bad rows)")
        with transaction.atomic():
            if at_risk is not None:
                at_risk_entries_store(job=job, version=champion, scored=at_risk)
            os.replace(tmp, final)
            tmp = None
            BatchScoringJob.objects.filter(pk=job.pk).update(
                status=BatchJobStatus.SUCCEEDED, result_path=str(final.relative_to(artifact_root())),
                rows_done=counts["done"], rows_scored=counts["scored"], bad_rows=counts["bad"],
                bad_rows_count=counts["bad_count"], finished_at=timezone.now(), seconds=time.perf_counter() - began,
            )
        if job.input_path:  # scored: the caller holds the file, bad rows are listed by number
            (artifact_root() / job.input_path).unlink(missing_ok=True)
    except Exception as exc:
        logger.warning("batch job %s failed: %s", job.pk, exc)
        BatchScoringJob.objects.filter(pk=job.pk).update(
            status=BatchJobStatus.FAILED, error=f"{getattr(exc, 'message', None) or exc}"[:5000],
            finished_at=timezone.now(), seconds=time.perf_counter() - began, result_path="",
        )
    finally:
        if tmp is not None and tmp.exists():
            tmp.unlink()
    job.refresh_from_db()
    return job


def _chunks(*, path: Path, fmt: str, size: int) -> Iterator[pd.DataFrame]:
    if fmt == "parquet":
        for batch in pq.ParquetFile(path).iter_batches(batch_size=size):
            yield batch.to_pandas()
    else:
        yield from pd.read_csv(path, dtype=str, chunksize=size, keep_default_na=True, skipinitialspace=True)


def _score_file(*, job: BatchScoringJob, champion: ModelVersion, tmp: Path, progress: Progress | None):
    pipeline = get_pipeline(job.model.pipeline)
    fitted = fitted_model_for(version=champion)
    chunk_rows = settings.BATCH_SCORING_CHUNK_ROWS
    done = scored = bad_count = 0
    bad: list[dict[str, Any]] = []
    writer: pq.ParquetWriter | None = None
    try:
        for frame in _chunks(path=artifact_root() / job.input_path, fmt=job.input_format, size=chunk_rows):
            result = score_frame(pipeline=pipeline, fitted=fitted, frame=frame, first_row=done + 1)
            rows = pd.DataFrame({
                "row": result.positions.astype(np.int64) + done + 1,
                **({ID_COLUMN: frame[ID_COLUMN].to_numpy()[result.positions].astype(str)}
                   if ID_COLUMN in frame.columns else {}),
                "prediction": result.scores,
            })
            rows["model"] = job.model.name
            rows["version"] = champion.version
            table = pa.Table.from_pandas(rows, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            done += len(frame)
            scored += len(result.scores)
            bad_count += len(result.bad)
            room = MAX_BAD_ROWS_LISTED - len(bad)
            if room > 0:
                bad.extend(result.bad[:room])
            # Progress survives a failure: the row says how far the job got.
            BatchScoringJob.objects.filter(pk=job.pk).update(
                rows_done=done, rows_scored=scored, bad_rows_count=bad_count, rows_total=max(job.rows_total, done)
            )
            if progress is not None:
                progress(done, job.rows_total)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise InvalidInput("the file has no rows")
    return {"done": done, "scored": scored, "bad": bad, "bad_count": bad_count}


def score_frame(*, pipeline: Pipeline, fitted: FittedModel, frame: pd.DataFrame, first_row: int = 1) -> ScoredChunk:
    """Check a chunk column by column (vectorised), score the valid rows; bad rows by 1-based row number."""
    n = len(frame)
    first_bad = np.full(n, -1, dtype=np.int64)  # index into pipeline.inputs of the first bad field per row
    columns: dict[str, Any] = {}
    messages: list[str] = []
    for index, spec in enumerate(pipeline.inputs):
        column, bad_mask, message = _column_check(frame[spec.name], spec)
        columns[spec.name] = column
        messages.append(message)
        first_bad[bad_mask & (first_bad < 0)] = index
    valid = first_bad < 0
    positions = np.flatnonzero(valid)
    raw = pd.DataFrame({name: (col[positions] if isinstance(col, np.ndarray) else col.iloc[positions].reset_index(
        drop=True)) for name, col in columns.items()})
    scores = (
        pipeline.predict(fitted, pipeline.feature_columns(raw)) if len(positions) else np.empty(0, dtype=np.float64)
    )
    bad = [
        {"row": first_row + int(position), "field": pipeline.inputs[first_bad[position]].name,
         "error": messages[first_bad[position]]}
        for position in np.flatnonzero(~valid)
    ]
    return ScoredChunk(positions=positions, raw=raw, scores=scores, bad=bad)


def _column_check(values: pd.Series, spec: InputField) -> tuple[Any, np.ndarray, str]:
    """(clean column, bad-row mask, message) for one input column."""
    missing = values.isna().to_numpy()
    if spec.kind == "number":
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            numbers = values.to_numpy(dtype=np.float64, na_value=np.nan)
            bad = ~np.isfinite(numbers) & ~missing
        else:
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
            bad = (~np.isfinite(numbers)) & ~missing
        message = f"field {spec.name!r} must be a finite number"
        if not spec.nullable and missing.any():
            bad = bad | missing
            message = f"field {spec.name!r} must be a finite number (not empty)"
        return numbers, bad, message
    if spec.kind == "string":
        text = values.astype("string").str.strip()
        bad = missing | (text.fillna("") == "").to_numpy()
        return text.fillna("").to_numpy(dtype=object), bad, f"field {spec.name!r} must be a non-empty string"
    if spec.kind == "datetime":
        if pd.api.types.is_datetime64_any_dtype(values):
            moments = values.dt.tz_convert(_local_tz()).dt.tz_localize(None) if values.dt.tz is not None else values
        else:
            text = values.astype("string").str.strip()
            with_tz = text.str.contains(_TZ_SUFFIX, na=False).to_numpy()
            moments = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
            naive = ~with_tz & ~missing
            if naive.any():
                moments[naive] = pd.to_datetime(text[naive], format="ISO8601", errors="coerce")
            if with_tz.any():  # an offset given: convert to local time as the pipeline does
                aware = pd.to_datetime(text[with_tz], format="ISO8601", errors="coerce", utc=True)
                moments[with_tz] = aware.dt.tz_convert(_local_tz()).dt.tz_localize(None)
        moments = moments.reset_index(drop=True)
        bad = moments.isna().to_numpy()
        return moments, bad, f"field {spec.name!r} must be an ISO 8601 date-time"
    raise AssertionError(f"unknown input kind {spec.kind!r}")


def _local_tz():
    return LOCAL_TZ
