"""Monitor results through the API (filters, on-demand runs) and on the model pages."""
from __future__ import annotations

import pytest

from models_registry.choices import MonitorKind, MonitorStatus
from models_registry.services import actuals_attach, predictions_make
from models_registry.services import monitors as monitor_services
from models_registry.services.replay import flight_records

from . import monitor_fixtures
from .monitor_fixtures import FEB, MAR

january_fit = monitor_fixtures.january_fit
champion_model = monitor_fixtures.champion_model


@pytest.fixture
def monitored(champion_model):
    """Champion with 300 February predictions, actuals for them, and one monitor run over February."""
    from models_registry.pipelines import get_pipeline

    frame = get_pipeline("flights.journey_time").load(start=FEB, end=MAR).frame.iloc[:3000:10]
    batch = predictions_make(model=champion_model, records=flight_records(frame), at=FEB.replace(day=12))
    actuals_attach(
        model=champion_model,
        actuals=[
            {"request_id": rid, "actual": float(a)} for rid, a in zip(batch.request_ids, frame["target"], strict=False)
        ],
    )
    monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR)
    return champion_model


def test_monitor_results_are_listed_and_filtered_by_model_kind_and_status(monitored, client_as):
    client = client_as("manager")
    everything = client.get("/api/v1/monitors/", {"model": "journey-time"}).json()
    assert everything["count"] == len(MonitorKind.values)
    performance = client.get("/api/v1/monitors/", {"model": "journey-time", "kind": "performance"}).json()
    (row,) = performance["results"]
    assert row["version"] == 1 and row["sample_size"] == 300 and row["metrics"]["mae"] > 0
    assert row["period_start"].startswith("2013-02-01") and row["reasons"]
    status = row["status"]
    other = next(s for s in MonitorStatus.values if s != status)
    assert client.get("/api/v1/monitors/", {"kind": "performance", "status": other}).json()["count"] == 0
    assert client.get("/api/v1/monitors/", {"model": "journey-time", "version": 2}).json()["count"] == 0


def test_an_unknown_monitor_kind_is_a_400_naming_the_filter(monitored, client_as):
    response = client_as("operator").get("/api/v1/monitors/", {"kind": "vibes"})
    assert response.status_code == 400
    assert "kind" in response.json()


def test_an_operator_runs_the_monitors_on_demand_and_gets_the_runs_back(
    monitored, client_as, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client_as("operator").post(
            "/api/v1/monitors/runs/",
            {"model": "journey-time", "period_start": "2013-02-01T00:00:00Z", "period_end": "2013-03-01T00:00:00Z"},
            format="json",
        )
    assert response.status_code == 202
    (run,) = response.json()
    assert run["version"] == 1 and run["state"] == "queued"
    detail = client_as("manager").get(f"/api/v1/monitors/runs/{run['id']}/").json()
    assert detail["state"] == "succeeded" and detail["status"] != "no_data"
    listed = client_as("manager").get("/api/v1/monitors/runs/", {"model": "journey-time", "state": "succeeded"}).json()
    assert run["id"] in {r["id"] for r in listed["results"]}


@pytest.mark.parametrize(
    ("name", "body", "status", "field"),
    [
        ("unknown_model", {"model": "nope"}, 404, "name"),
        ("period_backwards", {"model": "journey-time", "period_start": "2013-03-01T00:00:00Z",
                              "period_end": "2013-02-01T00:00:00Z"}, 400, "period_end"),
        ("not_a_date", {"model": "journey-time", "period_end": "yesterday"}, 400, "period_end"),
    ],
)
def test_bad_on_demand_requests_are_refused_naming_the_problem(monitored, client_as, name, body, status, field):
    response = client_as("operator").post("/api/v1/monitors/runs/", body, format="json")
    assert response.status_code == status
    assert field in str(response.json())


def test_managers_read_monitors_but_cannot_start_runs(monitored, client_as):
    client = client_as("manager")
    assert client.get("/api/v1/monitors/").status_code == 200
    assert client.post("/api/v1/monitors/runs/", {"model": "journey-time"}, format="json").status_code == 403


def test_the_model_page_shows_monitor_charts_and_results_and_the_list_shows_last_statuses(
    monitored, make_user, client
):
    user = make_user("manager")
    client.force_login(user)
    page = client.get("/models/journey-time/").content.decode()
    assert "monitor-series" in page and 'id="monitor-drift"' in page and "Recent results" in page
    assert "Data drift" in page and "Performance" in page
    listing = client.get("/models/").content.decode()
    assert "Last drift" in listing and "Last performance" in listing
    assert "2013-03-01" in listing  # the period end of the last results


def test_the_home_page_names_models_whose_monitors_breach(champion_model, make_user, client):
    from models_registry.pipelines import get_pipeline

    frame = get_pipeline("flights.journey_time").load(start=FEB, end=MAR).frame.iloc[:3000:10]
    batch = predictions_make(model=champion_model, records=flight_records(frame), at=FEB.replace(day=12))
    actuals_attach(
        model=champion_model,
        actuals=[
            {"request_id": rid, "actual": p + 60.0}
            for rid, p in zip(batch.request_ids, batch.predictions, strict=False)
        ],
    )
    client.force_login(make_user("executive"))
    assert "monitors breaching" not in client.get("/").content.decode()
    monitor_services.monitors_run_now(model=champion_model, period_start=FEB, period_end=MAR)
    assert "monitors breaching: journey-time" in client.get("/").content.decode()
