"""Serving over the API: champion predictions logged per record, late actuals, bad input, tampered artifacts."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from core.choices import IntegrationKind, Role
from models_registry.models import PredictionLog
from models_registry.pipelines import get_pipeline
from models_registry.services import fitted_model_for
from models_registry.services.serving import fitted_cache_clear

from .conftest import FAST, WEAK

RECORD = {
    "scheduled_departure": "2013-03-02T07:15:00", "carrier": "UA", "origin": "EWR", "dest": "IAH",
    "distance": 1400, "temp": 39.9, "humid": 55.0, "wind_speed": 10.4, "wind_gust": None, "precip": 0.0,
    "pressure": 1012.0, "visib": 10.0,
}


@pytest.fixture
def served(journey_model, train):
    """journey-time with a trained champion; returns the model."""
    fitted_cache_clear()
    train(journey_model)
    return journey_model


@pytest.fixture
def model_client(integration_client):
    return integration_client(IntegrationKind.MODEL)


def predict(client, records, name="journey-time"):
    return client.post(f"/api/v1/models/{name}/predict", {"records": records}, format="json")


def test_predict_returns_the_champions_predictions_and_logs_each_one(served, model_client):
    records = [RECORD, {**RECORD, "carrier": "B6", "dest": "FLL", "scheduled_departure": "2013-03-02T18:40:00-05:00"}]
    response = predict(model_client, records)

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["model"] == "journey-time" and body["version"] == 1
    assert len(body["predictions"]) == 2
    logs = PredictionLog.objects.filter(model=served).order_by("id")
    assert [log.request_id for log in logs] == [p["request_id"] for p in body["predictions"]]
    assert all(log.version.version == 1 and log.latency_ms > 0 for log in logs)
    assert logs[0].prediction == pytest.approx(body["predictions"][0]["prediction"])
    assert logs[1].features["carrier"] == "B6"


def test_serving_builds_the_same_features_as_training(served, model_client):
    """One pipeline for both: API predictions on real rows equal the pipeline's batch predictions."""
    pipeline = get_pipeline("flights.journey_time")
    raw = pipeline.load(start=datetime(2013, 3, 1, tzinfo=UTC), end=datetime(2013, 3, 1, 3, tzinfo=UTC)).frame.head(20)
    expected = pipeline.predict(fitted_model_for(version=served.versions.get()), pipeline.build_features(raw))
    response = predict(model_client, pipeline.records_from_frame(raw))
    assert [p["prediction"] for p in response.json()["predictions"]] == pytest.approx(list(expected))


@pytest.mark.parametrize(
    ("case", "records", "field"),
    [
        ("missing_feature", [RECORD, {k: v for k, v in RECORD.items() if k != "distance"}], "records[1].distance"),
        ("number_as_string", [{**RECORD, "distance": "far"}], "records[0].distance"),
        ("boolean_as_number", [{**RECORD, "temp": True}], "records[0].temp"),
        ("null_in_required_field", [{**RECORD, "carrier": None}], "records[0].carrier"),
        (
            "bad_datetime",
            [RECORD, RECORD, {**RECORD, "scheduled_departure": "yesterday"}],
            "records[2].scheduled_departure",
        ),
        ("record_not_an_object", [RECORD, 42], "records[1]"),
        ("empty_batch", [], "records"),
    ],
)
def test_bad_records_get_a_400_naming_index_and_field_and_store_nothing(served, model_client, case, records, field):
    response = predict(model_client, records)
    assert response.status_code == 400, case
    assert response.json()["field"] == field
    assert PredictionLog.objects.count() == 0


def test_a_body_without_records_is_a_400(served, model_client):
    response = model_client.post("/api/v1/models/journey-time/predict", [RECORD], format="json")
    assert response.status_code == 400 and response.json()["field"] == "records"


def test_unknown_model_is_a_404_naming_it(served, model_client):
    response = predict(model_client, [RECORD], name="no-such-model")
    assert response.status_code == 404 and "no-such-model" in response.json()["detail"]


def test_a_model_without_champion_answers_409(journey_model, model_client):
    response = predict(model_client, [RECORD])
    assert response.status_code == 409 and response.json()["code"] == "no_champion"


def test_a_tampered_artifact_is_refused_and_nothing_is_stored(served, model_client, settings):
    fitted_cache_clear()
    version = served.versions.get()
    path = settings.ARTIFACT_DIR / version.artifact_path
    path.write_bytes(path.read_bytes() + b"tampered")

    response = predict(model_client, [RECORD])

    assert response.status_code == 409
    assert response.json()["code"] == "artifact_integrity" and "SHA-256" in response.json()["detail"]
    assert PredictionLog.objects.count() == 0


def test_actuals_attach_by_request_id(served, model_client):
    ids = [p["request_id"] for p in predict(model_client, [RECORD, RECORD]).json()["predictions"]]

    response = model_client.post(
        "/api/v1/models/journey-time/actuals", {"actuals": [{"request_id": ids[1], "actual": 42.0}]}, format="json"
    )

    assert response.status_code == 200 and response.json()["stored"] == 1
    log = PredictionLog.objects.get(request_id=ids[1])
    assert log.actual == 42.0 and log.actual_at is not None
    assert PredictionLog.objects.get(request_id=ids[0]).actual is None


def test_actuals_with_an_unknown_request_id_store_nothing_and_name_it(served, model_client):
    ids = [p["request_id"] for p in predict(model_client, [RECORD]).json()["predictions"]]

    response = model_client.post(
        "/api/v1/models/journey-time/actuals",
        {"actuals": [{"request_id": ids[0], "actual": 5}, {"request_id": "not-a-real-id", "actual": 7}]},
        format="json",
    )

    assert response.status_code == 400
    assert "not-a-real-id" in response.json()["detail"]
    assert PredictionLog.objects.get(request_id=ids[0]).actual is None


def test_actuals_of_a_classifier_must_be_zero_or_one(stuck_model, train, model_client):
    fitted_cache_clear()
    train(stuck_model)
    ids = [p["request_id"] for p in predict(model_client, [RECORD], name="stuck-journey").json()["predictions"]]
    bad = model_client.post(
        "/api/v1/models/stuck-journey/actuals", {"actuals": [{"request_id": ids[0], "actual": 3}]}, format="json"
    )
    good = model_client.post(
        "/api/v1/models/stuck-journey/actuals", {"actuals": [{"request_id": ids[0], "actual": True}]}, format="json"
    )
    assert bad.status_code == 400 and bad.json()["field"] == "actuals[0].actual"
    assert good.status_code == 200 and PredictionLog.objects.get(request_id=ids[0]).actual == 1.0


@pytest.mark.parametrize(
    ("who", "status"),
    [("model_token", 200), ("generic_token", 200), ("alertmanager_token", 403), ("operator", 200),
     ("manager", 403), ("anonymous", 401)],
)
def test_who_may_call_predict(served, integration_client, client_as, api_client, who, status):
    client = {
        "model_token": lambda: integration_client(IntegrationKind.MODEL),
        "generic_token": lambda: integration_client(IntegrationKind.GENERIC),
        "alertmanager_token": lambda: integration_client(IntegrationKind.ALERTMANAGER),
        "operator": lambda: client_as(Role.OPERATOR),
        "manager": lambda: client_as(Role.MANAGER),
        "anonymous": lambda: api_client,
    }[who]()
    assert predict(client, [RECORD]).status_code == status


def test_the_log_keeps_each_record_as_validated(served, model_client):
    record = {**RECORD, "carrier": " UA ", "distance": 1400, "unknown_field": "dropped"}
    response = predict(model_client, [record])

    assert response.status_code == 200, response.content
    log = PredictionLog.objects.get()
    assert log.features == {**RECORD, "carrier": "UA", "distance": 1400.0}
    assert log.features["wind_gust"] is None and log.version.version == 1


@pytest.mark.parametrize(
    ("case", "records", "field"),
    [
        ("nul_character", [RECORD, {**RECORD, "dest": "IA\u0000H"}], "records[1].dest"),
        ("second_of_two_problems_in_a_record", [{**RECORD, "temp": "warm", "carrier": ""}], "records[0].carrier"),
        ("problem_in_an_earlier_record_wins", [RECORD, {**RECORD, "visib": "low"}, {**RECORD, "carrier": 7}],
         "records[1].visib"),
    ],
)
def test_more_bad_records_name_the_first_problem(served, model_client, case, records, field):
    response = predict(model_client, records)
    assert response.status_code == 400, case
    assert response.json()["field"] == field
    assert PredictionLog.objects.count() == 0


@pytest.mark.parametrize("body", [b'{"records": [', b'{"records": [{"distance": NaN}]}', b"\xff"])
def test_a_body_that_is_not_json_is_a_400_naming_the_body(served, model_client, body):
    response = model_client.post("/api/v1/models/journey-time/predict", body, content_type="application/json")
    assert response.status_code == 400 and response.json()["field"] == "body"
    assert PredictionLog.objects.count() == 0


def test_an_integer_beyond_float_range_is_a_400_not_a_crash(served):
    from models_registry.exceptions import InvalidRecords
    from models_registry.services import predictions_make

    with pytest.raises(InvalidRecords) as error:
        predictions_make(model=served, records=[{**RECORD, "distance": 10**400}])
    assert error.value.field == "records[0].distance"


def test_a_promotion_or_rollback_is_served_from_the_next_request(journey_model, train, model_client):
    """Serving reads the champion on every request: the bound is one request, whichever process serves it."""
    from models_registry.services import model_rollback

    fitted_cache_clear()
    train(journey_model, params=WEAK)
    assert predict(model_client, [RECORD]).json()["version"] == 1

    second = train(journey_model, params=FAST)
    assert second.version.alias == "champion"
    promoted = predict(model_client, [RECORD]).json()
    assert promoted["version"] == 2
    pipeline = get_pipeline("flights.journey_time")
    expected = pipeline.predict(fitted_model_for(version=second.version), pipeline.build_features(
        pipeline.frame_from_records([RECORD])))
    assert promoted["predictions"][0]["prediction"] == pytest.approx(expected[0])

    model_rollback(model=journey_model, reason="test")
    assert predict(model_client, [RECORD]).json()["version"] == 1
    assert list(PredictionLog.objects.order_by("id").values_list("version__version", flat=True)) == [1, 2, 1]


def test_the_serving_lookup_reads_model_and_champion_in_one_query(served, django_assert_num_queries):
    from models_registry.selectors import model_serving_get

    with django_assert_num_queries(1):
        model, champion = model_serving_get(name="journey-time")
        assert (model.pk, model.name, model.pipeline) == (served.pk, "journey-time", "flights.journey_time")
        assert champion.version == 1 and champion.model is model
    # Columns serving does not read load on access, as with .only().
    assert champion.metrics == served.versions.get().metrics
    assert model.business_kpi == served.business_kpi


def test_the_serving_lookup_of_a_model_without_champion_or_unknown(journey_model):
    from models_registry.exceptions import ModelNotFound
    from models_registry.selectors import model_serving_get

    assert model_serving_get(name="journey-time") == (journey_model, None)
    with pytest.raises(ModelNotFound):
        model_serving_get(name="nope")


def test_request_ids_are_distinct_version_4_uuids():
    import uuid

    from models_registry.services.serving import _request_ids

    ids = _request_ids(500)
    assert len(set(ids)) == 500
    assert all(uuid.UUID(i).version == 4 and uuid.UUID(i).variant == uuid.RFC_4122 and uuid.UUID(i).hex == i
               for i in ids)
