"""Batch scoring: a file (good, bad rows, wrong header, empty, too big) and the open journeys, as a job; daily beat."""
from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pandas as pd
import pyarrow.parquet as pq
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from aiops.beat import beat_schedule
from models_registry.artifacts import artifact_root
from models_registry.choices import BatchJobSource, BatchJobStatus
from models_registry.models import AtRiskEntry, BatchScoringJob
from models_registry.pipelines import get_pipeline
from models_registry.services import batch as batch_services

MARCH = datetime(2013, 3, 2, tzinfo=UTC)


def journeys_csv(n: int = 300) -> str:
    pipeline = get_pipeline("flights.journey_time")
    frame = pipeline.load(start=MARCH, end=datetime(2013, 3, 4, tzinfo=UTC)).frame.head(n)
    records = pd.DataFrame(pipeline.records_from_frame(frame))
    records.insert(0, "journey_id", [f"J{i}" for i in range(len(records))])
    return records.to_csv(index=False)


@pytest.fixture
def upload(django_capture_on_commit_callbacks):
    """POST a file to the batch API; the job runs in-process once the request commits (eager Celery)."""

    def post(client, text: str | bytes, name: str = "journeys.csv", model: str = "journey-time"):
        data = text.encode() if isinstance(text, str) else text
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(f"/api/v1/models/{model}/batch-jobs", {"file": SimpleUploadedFile(name, data)},
                               format="multipart")

    return post


@pytest.fixture
def champion(journey_model, train):
    return train(journey_model).version


def test_a_good_file_is_scored_with_the_champion_and_downloadable(operator_client, upload, champion, settings):
    settings.BATCH_SCORING_CHUNK_ROWS = 120  # several chunks: progress is stored after each
    response = upload(operator_client, journeys_csv(300))
    assert response.status_code == 202, response.content
    job = BatchScoringJob.objects.get(pk=response.json()["id"])  # eager: already run
    assert job.status == BatchJobStatus.SUCCEEDED and job.version == champion
    assert job.rows_done == job.rows_scored == 300 and job.bad_rows == []
    assert not (artifact_root() / job.input_path).exists()  # scored: the upload is not kept

    polled = operator_client.get(f"/api/v1/batch-jobs/{job.pk}/").json()
    assert polled["status"] == "succeeded" and polled["progress"] == 1.0 and polled["version"] == champion.version
    csv_text = b"".join(operator_client.get(polled["result_url"] + "?type=csv").streaming_content).decode()
    result = pd.read_csv(io.StringIO(csv_text))
    assert len(result) == 300 and list(result["journey_id"][:2]) == ["J0", "J1"]
    assert set(result["version"]) == {champion.version} and result["prediction"].notna().all()
    parquet = operator_client.get(polled["result_url"] + "?type=parquet")
    table = pq.read_table(io.BytesIO(b"".join(parquet.streaming_content)))
    assert table.num_rows == 300


def test_bad_rows_are_reported_by_row_number_and_the_rest_scored(operator_client, upload, champion):
    frame = pd.read_csv(io.StringIO(journeys_csv(50)), dtype=str)
    frame.loc[3, "distance"] = "far"
    frame.loc[10, "scheduled_departure"] = "yesterday"
    frame.loc[20, "carrier"] = None
    response = upload(operator_client, frame.to_csv(index=False))
    job = BatchScoringJob.objects.get(pk=response.json()["id"])

    assert job.status == BatchJobStatus.SUCCEEDED
    assert job.rows_scored == 47 and job.bad_rows_count == 3
    assert [(bad["row"], bad["field"]) for bad in job.bad_rows] == [
        (4, "distance"), (11, "scheduled_departure"), (21, "carrier")
    ]
    result = pd.read_parquet(artifact_root() / job.result_path)
    assert 4 not in set(result["row"]) and 5 in set(result["row"])


@pytest.mark.parametrize(
    ("text", "status", "words"),
    [
        ("journey_id,carrier,origin\nJ1,UA,EWR\n", 400, "missing column(s)"),
        ("", 400, "empty"),
        (None, 400, "no rows"),  # header only
    ],
    ids=["wrong_header", "empty_file", "header_without_rows"],
)
def test_a_file_that_cannot_be_scored_is_refused_with_the_reason(
    operator_client, upload, champion, text, status, words
):
    if text is None:
        text = journeys_csv(1).splitlines()[0] + "\n"
    response = upload(operator_client, text)
    assert response.status_code == status, response.content
    assert words in response.content.decode()
    assert not BatchScoringJob.objects.exists()


def test_unknown_column_size_limit_unknown_model_and_no_champion(
    operator_client, upload, champion, stuck_model, settings
):
    extra = journeys_csv(5).replace("journey_id,", "mystery,", 1)
    response = upload(operator_client, extra)
    assert response.status_code == 400 and "unknown column(s) ['mystery']" in response.content.decode()
    settings.BATCH_SCORING_MAX_BYTES = 100
    assert upload(operator_client, journeys_csv(5)).status_code == 413
    settings.BATCH_SCORING_MAX_BYTES = 10**9
    assert upload(operator_client, journeys_csv(5), model="nope").status_code == 404
    response = upload(operator_client, journeys_csv(5), model=stuck_model.name)
    assert response.status_code == 409 and "no champion" in response.content.decode()
    assert upload(operator_client, "a,b\n1,2\n", name="x.xlsx").status_code == 400
    assert not BatchScoringJob.objects.exists()


def test_a_failing_job_keeps_its_progress_and_no_result(operator_client, upload, champion, settings, monkeypatch):
    settings.BATCH_SCORING_CHUNK_ROWS = 100
    calls = {"n": 0}
    real = batch_services.score_frame

    def fail_second_chunk(**kwargs):
        calls["n"] += 1
        if calls["n"] == 2:
            raise RuntimeError("disk full")
        return real(**kwargs)

    monkeypatch.setattr(batch_services, "score_frame", fail_second_chunk)
    job = BatchScoringJob.objects.get(pk=upload(operator_client, journeys_csv(250)).json()["id"])

    assert job.status == BatchJobStatus.FAILED and "disk full" in job.error
    assert job.rows_done == 100 and job.result_path == ""
    assert not list((artifact_root() / "batch" / "results").glob("*"))
    assert operator_client.get(f"/api/v1/batch-jobs/{job.pk}/result").status_code == 409


def test_parquet_input_is_scored(operator_client, upload, champion):
    frame = pd.read_csv(io.StringIO(journeys_csv(40)))
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    job = BatchScoringJob.objects.get(pk=upload(operator_client, buffer.getvalue(), name="j.parquet").json()["id"])
    assert job.status == BatchJobStatus.SUCCEEDED and job.rows_scored == 40


def test_the_daily_beat_pass_scores_the_open_journeys(
    stuck_model, journey_model, train, settings, django_capture_on_commit_callbacks
):
    settings.AT_RISK_MODEL, settings.AT_RISK_FORECAST_MODEL = stuck_model.name, journey_model.name
    schedule = beat_schedule(alert_intake_sweep_seconds=5, notify_sweep_seconds=5)
    entry = schedule["models-registry-daily-at-risk"]
    assert entry["task"] == "models_registry.batch_daily_at_risk" and entry["options"]["expires"] < 24 * 3600
    assert batch_services.batch_schedule_daily() == []  # no champion yet: nothing to score
    train(stuck_model)
    train(journey_model)

    with django_capture_on_commit_callbacks(execute=True):
        jobs = batch_services.batch_schedule_daily()

    assert len(jobs) == 1
    job = BatchScoringJob.objects.get(pk=jobs[0].pk)
    assert job.source == BatchJobSource.OPEN_JOURNEYS and job.status == BatchJobStatus.SUCCEEDED
    assert AtRiskEntry.objects.filter(job=job).count() == job.rows_scored > 500


def test_the_reaper_fails_jobs_whose_worker_died(journey_model):
    now = datetime(2026, 1, 1, tzinfo=UTC)
    stuck = BatchScoringJob.objects.create(model=journey_model, source=BatchJobSource.FILE,
                                           status=BatchJobStatus.RUNNING, started_at=now - timedelta(hours=2),
                                           rows_done=300)
    fresh = BatchScoringJob.objects.create(model=journey_model, source=BatchJobSource.FILE,
                                           status=BatchJobStatus.RUNNING, started_at=now - timedelta(minutes=1))
    assert batch_services.batch_jobs_reap(now=now) == 1
    stuck.refresh_from_db()
    fresh.refresh_from_db()
    assert stuck.status == BatchJobStatus.FAILED and stuck.rows_done == 300 and "reaped" in stuck.error
    assert fresh.status == BatchJobStatus.RUNNING
