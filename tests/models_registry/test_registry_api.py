"""Registry API and pages: models, versions, training runs, gate decisions, rollback and who may do what."""
from __future__ import annotations

from types import SimpleNamespace

import pytest
from django.core.management import call_command

from core.choices import Role
from incidents.playbooks.actions import get_action
from models_registry.choices import TrainingRunStatus, VersionAlias
from models_registry.models import TrainingRun

from .conftest import FAST, WEAK


@pytest.fixture
def history(journey_model, train):
    """v1 (weak) promoted, then v2 promoted over it, then v3 (weak) rejected."""
    train(journey_model, params=WEAK)
    train(journey_model, params=FAST)
    train(journey_model, params=WEAK)
    return journey_model


def test_models_list_shows_champion_and_inputs(history, client_as):
    response = client_as(Role.MANAGER).get("/api/v1/models/")
    assert response.status_code == 200
    [model] = response.json()["results"]
    assert model["name"] == "journey-time" and model["task"] == "regression"
    assert model["champion"]["version"] == 2 and model["challenger"]["version"] == 3
    assert {field["name"] for field in model["inputs"]} >= {"scheduled_departure", "carrier", "distance"}


def test_versions_gate_decisions_and_training_runs_are_listed(history, client_as):
    client = client_as(Role.EXECUTIVE)
    versions = client.get("/api/v1/models/journey-time/versions/").json()["results"]
    decisions = client.get("/api/v1/models/journey-time/gate-decisions/").json()["results"]
    runs = client.get("/api/v1/models/journey-time/training-runs/").json()["results"]
    every_run = client.get("/api/v1/training-runs/?status=succeeded").json()

    assert [v["version"] for v in versions] == [3, 2, 1]
    assert versions[0]["artifact_sha256"] and versions[0]["data_fingerprint"] and versions[0]["features"]
    assert [d["decision"] for d in decisions] == ["reject", "promote", "promote"]
    assert decisions[0]["champion"] == 2 and decisions[0]["reasons"]
    assert len(runs) == 3 and every_run["count"] == 3
    assert client.get("/api/v1/models/journey-time/").json()["champion"]["version"] == 2


def test_unknown_model_is_a_404(history, client_as):
    assert client_as(Role.MANAGER).get("/api/v1/models/nope/versions/").status_code == 404


def test_operators_start_training_runs_and_managers_may_not(
    journey_model, client_as, django_capture_on_commit_callbacks
):
    manager = client_as(Role.MANAGER).post("/api/v1/models/journey-time/training-runs/", {}, format="json")
    assert manager.status_code == 403

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.OPERATOR).post(
            "/api/v1/models/journey-time/training-runs/",
            {"as_of": "2013-03-01T00:00:00Z", "params": FAST}, format="json",
        )

    assert response.status_code == 202, response.content
    run = TrainingRun.objects.get(pk=response.json()["id"])
    assert run.status == TrainingRunStatus.SUCCEEDED and run.requested_by is not None
    assert journey_model.versions.get().alias == VersionAlias.CHAMPION


def test_a_second_run_while_one_is_queued_is_a_409(journey_model, client_as):
    client = client_as(Role.ADMIN)
    first = client.post("/api/v1/models/journey-time/training-runs/", {}, format="json")
    second = client.post("/api/v1/models/journey-time/training-runs/", {}, format="json")
    assert first.status_code == 202 and second.status_code == 409


def test_bad_training_parameters_are_a_400(journey_model, client_as):
    response = client_as(Role.ADMIN).post(
        "/api/v1/models/journey-time/training-runs/", {"params": {"holdout_days": "two"}}, format="json"
    )
    assert response.status_code == 400 and "params" in response.json()
    assert not TrainingRun.objects.exists()


def test_rollback_over_the_api(history, client_as):
    assert client_as(Role.MANAGER).post("/api/v1/models/journey-time/rollback/", {}, format="json").status_code == 403
    response = client_as(Role.OPERATOR).post("/api/v1/models/journey-time/rollback/", {"reason": "bad"}, format="json")
    assert response.status_code == 200
    assert response.json()["decision"] == "rollback" and response.json()["challenger"] == 1
    assert history.versions.get(alias=VersionAlias.CHAMPION).version == 1


def test_model_pages_render_history_and_chart(history, client, make_user):
    client.force_login(make_user(Role.MANAGER))
    index = client.get("/models/")
    page = client.get("/models/journey-time/")
    assert index.status_code == 200 and b"journey-time" in index.content and b"v2" in index.content
    assert page.status_code == 200
    assert b"version-metrics-data" in page.content and b"MAE gain over champion" in page.content
    assert client.get("/models/nope/").status_code == 404


def test_only_operators_retrain_from_the_page(journey_model, client, make_user):
    client.force_login(make_user(Role.MANAGER))
    assert client.post("/models/journey-time/retrain").status_code == 403
    client.force_login(make_user(Role.OPERATOR))
    response = client.post("/models/journey-time/retrain")
    assert response.status_code == 302 and TrainingRun.objects.filter(model=journey_model).count() == 1


def test_playbook_actions_retrain_and_roll_back(history):
    incident = SimpleNamespace(pk=7, service_id=history.service_id)
    rollback = get_action("rollback_model")(incident=incident, params={"model": "journey-time"})
    retrain = get_action("retrain_model")(incident=incident, params={"model": "journey-time", "as_of": "2013-03-01"})
    assert rollback.ok and rollback.data["champion"] == 1
    assert retrain.ok and TrainingRun.objects.filter(pk=retrain.data["training_runs"][0]).exists()
    unknown = get_action("rollback_model")(incident=incident, params={"model": "nope"})
    assert not unknown.ok and "nope" in unknown.detail


def test_retrain_and_rollback_commands(journey_model, capsys):
    call_command(
        "retrain",
        "journey-time",
        "--as-of",
        "2013-03-01",
        "--params",
        '{"train_window_days": 10, "holdout_days": 4, "max_iter": 1}',
    )
    call_command(
        "retrain",
        "journey-time",
        "--as-of",
        "2013-03-01",
        "--params",
        '{"train_window_days": 10, "holdout_days": 4, "max_iter": 25}',
    )
    out = capsys.readouterr().out
    assert "decision: PROMOTE v1" in out and "decision: PROMOTE v2" in out and "MAE gain over champion" in out
    call_command("rollback", "journey-time")
    assert "champion is v1 again" in capsys.readouterr().out
