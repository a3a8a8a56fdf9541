"""A finished batch job's result set: where it lies and its CSV download (the stored file is Parquet)."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pyarrow.parquet as pq

from ..artifacts import artifact_root
from ..choices import BatchJobStatus
from ..exceptions import BatchResultNotReady
from ..models import BatchScoringJob


def batch_result_path(*, job: BatchScoringJob) -> Path:
    if job.status != BatchJobStatus.SUCCEEDED or not job.result_path:
        raise BatchResultNotReady(f"batch job {job.pk} is {job.status}; no complete result set to download")
    return artifact_root() / job.result_path


def batch_result_csv_chunks(*, job: BatchScoringJob) -> Iterator[bytes]:
    """The result set as CSV, a record batch at a time (a big result is never held whole in memory)."""
    path = batch_result_path(job=job)
    first = True
    for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
        yield batch.to_pandas().to_csv(index=False, header=first).encode()
        first = False
