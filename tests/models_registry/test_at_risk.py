"""The daily at-risk list: ranked by stuck probability with forecast and reasons, filters, CSV, handled marks
carried over to the next day's list, new entries flagged, and the list's precision at capacity as a monitor."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pytest

from models_registry.choices import BatchJobStatus, MonitorKind, MonitorStatus
from models_registry.models import AtRiskEntry, MonitorResult
from models_registry.services import batch as batch_services
from models_registry.services import monitors as monitor_services

DAY1 = datetime(2013, 3, 2, 10, tzinfo=UTC)
DAY2 = DAY1 + timedelta(days=1)


@pytest.fixture
def models(stuck_model, journey_model, train, settings):
    settings.AT_RISK_MODEL, settings.AT_RISK_FORECAST_MODEL = stuck_model.name, journey_model.name
    settings.AT_RISK_EXPLAIN_TOP = 30
    train(stuck_model)
    train(journey_model)
    return stuck_model, journey_model


def score_list(model, as_of):
    job = batch_services.batch_job_create_open_journeys(model=model, as_of=as_of, enqueue=False)
    job = batch_services.batch_job_execute(job_id=job.pk)
    assert job.status == BatchJobStatus.SUCCEEDED, job.error
    return job


def test_the_list_is_ranked_with_forecast_interval_reasons_and_version(models, operator_client):
    stuck, journey = models
    job = score_list(stuck, DAY1)

    body = operator_client.get("/api/v1/at-risk/?limit=50").json()

    rows = body["results"]
    probabilities = [row["stuck_probability"] for row in rows]
    assert len(rows) == 50 and probabilities == sorted(probabilities, reverse=True)
    assert [row["rank"] for row in rows] == list(range(1, 51))
    assert job.rows_scored == AtRiskEntry.objects.filter(job=job).count()
    top = rows[0]
    assert top["forecast_low"] < top["forecast_minutes"] < top["forecast_high"]
    assert top["top_features"] and top["top_features"][0]["effect"] > 0
    assert top["model_version"] == 1 and top["forecast_version"] == 1 and top["scored_at"]
    # Every listed journey departs within the horizon after the list was drawn.
    departures = {AtRiskEntry.objects.get(job=job, journey_key=row["journey_key"]).scheduled_departure for row in rows}
    assert all(DAY1 <= moment < DAY1 + timedelta(hours=48) for moment in departures)


def test_filters_and_csv_export(models, operator_client, client, make_user):
    score_list(models[0], DAY1)
    ewr = operator_client.get("/api/v1/at-risk/?origin=ewr&carrier=UA").json()["results"]
    assert ewr and {(r["origin"], r["carrier"]) for r in ewr} == {("EWR", "UA")}
    day = operator_client.get("/api/v1/at-risk/?date=2013-03-03").json()["results"]
    assert day and all(r["scheduled_departure"].startswith("2013-03-03") for r in day)
    assert operator_client.get("/api/v1/at-risk/?date=March").status_code == 400

    client.force_login(make_user("operator"))
    page = client.get("/models/at-risk/?origin=JFK&export=csv")
    reader = list(csv.DictReader(io.StringIO(page.content.decode())))
    assert reader and {row["origin"] for row in reader} == {"JFK"}
    assert int(reader[0]["rank"]) < int(reader[-1]["rank"])
    html = client.get("/models/at-risk/?carrier=UA").content.decode()
    assert "At-risk journeys" in html and "UA" in html


def test_handled_marks_carry_over_and_tomorrows_list_shows_what_is_new(models, operator_client, make_user):
    stuck = models[0]
    score_list(stuck, DAY1)
    first = operator_client.get("/api/v1/at-risk/").json()["results"]
    assert not any(row["is_new"] for row in first)  # nothing to compare with on the first day
    # A journey still open tomorrow (the 48 h windows overlap by a day).
    key = next(row["journey_key"] for row in first
               if AtRiskEntry.objects.filter(journey_key=row["journey_key"], scheduled_departure__gte=DAY2).exists())
    response = operator_client.post("/api/v1/at-risk/handled", {"journey_key": key}, format="json")
    assert response.status_code == 200 and response.json()["handled_by"]

    score_list(stuck, DAY2)
    today = operator_client.get("/api/v1/at-risk/").json()["results"]
    by_key = {row["journey_key"]: row for row in today}

    assert key in by_key and by_key[key]["handled_by"] == response.json()["handled_by"] and by_key[key]["handled_at"]
    assert not by_key[key]["is_new"]
    new = [row for row in today if row["is_new"]]
    assert new and all(AtRiskEntry.objects.filter(journey_key=row["journey_key"]).count() == 1 for row in new)
    unhandled = operator_client.get("/api/v1/at-risk/?hide_handled=1").json()["results"]
    assert key not in {row["journey_key"] for row in unhandled}
    assert operator_client.post("/api/v1/at-risk/handled", {"journey_key": "nope"}, format="json").status_code == 400


def test_precision_at_capacity_is_a_monitor_once_actuals_arrive(models, operator_client, settings):
    stuck = models[0]
    settings.AT_RISK_CAPACITY = 40
    settings.AT_RISK_MIN_PRECISION = 0.30
    job = score_list(stuck, DAY1)
    top = list(AtRiskEntry.objects.filter(job=job, rank__lte=40).order_by("rank"))
    period = {"period_start": DAY1 - timedelta(hours=1), "period_end": DAY1 + timedelta(hours=1)}

    waiting = monitor_services.monitors_run_now(model=stuck, **period)
    assert MonitorResult.objects.get(run__in=waiting, kind=MonitorKind.AT_RISK_PRECISION).status == "no_data"

    actuals = [{"journey_key": e.journey_key, "actual": 1 if i % 4 == 0 else 0} for i, e in enumerate(top)]
    response = operator_client.post("/api/v1/at-risk/actuals", {"actuals": actuals}, format="json")
    assert response.status_code == 200
    runs = monitor_services.monitors_run_now(model=stuck, **period)
    result = MonitorResult.objects.get(run__in=runs, kind=MonitorKind.AT_RISK_PRECISION)

    assert result.metrics["precision_at_capacity"] == pytest.approx(10 / 40)
    assert result.metrics["labelled"] == 40 and result.status == MonitorStatus.BREACH  # below the 30 % bar
    bad = operator_client.post("/api/v1/at-risk/actuals", {"actuals": [{"journey_key": "x", "actual": 1}]},
                               format="json")
    assert bad.status_code == 400
