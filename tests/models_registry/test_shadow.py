"""Shadow challenger: scores the same live requests as the champion, never returned, logged apart; compared on
the same rows once actuals arrive; the gate judges on the live comparison as well as the offline holdout."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models_registry.choices import GateOutcome, VersionAlias
from models_registry.models import PredictionLog, ShadowPredictionLog
from models_registry.pipelines import get_pipeline
from models_registry.services.replay import flight_records

from .conftest import FAST, WEAK

MARCH = datetime(2013, 3, 2, tzinfo=UTC)


@pytest.fixture
def champion_and_challenger(journey_model, train, settings):
    settings.MODEL_SHADOW_MODE = "inline"  # scored in the request so the test sees it; production uses a thread
    champion = train(journey_model, params=FAST).version
    challenger = train(journey_model, params=WEAK).version  # rejected by the gate: stays the challenger
    assert challenger.alias == VersionAlias.CHALLENGER
    return champion, challenger


@pytest.fixture(scope="module")
def march():
    frame = get_pipeline("flights.journey_time").load(start=MARCH, end=datetime(2013, 3, 3, tzinfo=UTC)).frame
    frame = frame.head(300).reset_index(drop=True)
    return frame, flight_records(frame)


def test_a_shadow_scores_live_requests_apart_and_is_compared_on_the_same_rows(
    journey_model, champion_and_challenger, march, operator_client, client, make_user, settings
):
    champion, challenger = champion_and_challenger
    frame, records = march
    response = operator_client.post(f"/api/v1/models/{journey_model.name}/shadow", {"version": challenger.version},
                                    format="json")
    assert response.status_code == 200 and response.json()["shadow"] == challenger.version

    answer = operator_client.post(f"/api/v1/models/{journey_model.name}/predict", {"records": records},
                                  format="json").json()

    assert answer["version"] == champion.version and len(answer["predictions"]) == len(records)
    ids = [p["request_id"] for p in answer["predictions"]]
    assert set(PredictionLog.objects.filter(request_id__in=ids).values_list("version", flat=True)) == {champion.pk}
    shadow = dict(ShadowPredictionLog.objects.filter(version=challenger).values_list("request_id", "prediction"))
    assert set(shadow) == set(ids)
    served = {p["request_id"]: p["prediction"] for p in answer["predictions"]}
    assert any(abs(shadow[i] - served[i]) > 1e-6 for i in ids)  # its own predictions, never returned

    actuals = [{"request_id": i, "actual": float(a)} for i, a in zip(ids, frame["target"], strict=False)]
    assert operator_client.post(f"/api/v1/models/{journey_model.name}/actuals", {"actuals": actuals},
                                format="json").status_code == 200
    live = operator_client.get(f"/api/v1/models/{journey_model.name}/shadow").json()

    assert live["compared"] == len(records) == live["logged"]
    assert live["champion_metrics"]["n"] == live["shadow_metrics"]["n"] == len(records)
    assert live["champion_metrics"]["mae"] < live["shadow_metrics"]["mae"]  # the weak challenger is worse live

    client.force_login(make_user("manager"))
    page = client.get(f"/models/{journey_model.name}/").content.decode()
    assert "Shadow challenger" in page and f"v{challenger.version} scores every live request" in page

    settings.MODEL_SHADOW_MIN_LIVE_ROWS = 100
    decision = operator_client.post(f"/api/v1/models/{journey_model.name}/shadow/decide").json()
    assert decision["decision"] == GateOutcome.REJECT
    assert any(r.startswith("fail: live on 300 rows") for r in decision["reasons"])
    assert decision["metrics"]["live"]["n"] == 300 and decision["metrics"]["challenger"]["n"] > 0
    journey_model.refresh_from_db()
    assert journey_model.shadow is None


def test_without_enough_live_rows_the_offline_holdout_decides(journey_model, champion_and_challenger, operator_client):
    _, challenger = champion_and_challenger
    operator_client.post(f"/api/v1/models/{journey_model.name}/shadow", {"version": challenger.version}, format="json")
    decision = operator_client.post(f"/api/v1/models/{journey_model.name}/shadow/decide").json()
    assert decision["reasons"][0].startswith("live comparison: 0 rows") and decision["metrics"]["live"] is None
    assert decision["decision"] == GateOutcome.REJECT  # the weak challenger fails offline too


def test_the_champion_cannot_shadow_itself(journey_model, champion_and_challenger, operator_client, manager_client):
    champion, _ = champion_and_challenger
    url = f"/api/v1/models/{journey_model.name}/shadow"
    assert operator_client.post(url, {"version": champion.version}, format="json").status_code == 400
    assert operator_client.post(url, {"version": 99}, format="json").status_code == 404
    assert manager_client.post(url, {"version": None}, format="json").status_code == 403
