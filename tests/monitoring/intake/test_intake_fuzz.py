"""Property: whatever JSON a sender posts, the answer is never 5xx and never leaves a partial row.

An accepted request is one the worker can process: validation at the door is complete.
"""
from __future__ import annotations

import copy
import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from incidents.models import Alert
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import am_payload, grafana_payload, pd_event

pytestmark = pytest.mark.django_db

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
FUZZ = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def mutate(base: dict, paths: list[tuple], data) -> dict:
    """Replace or delete the value at one path of a valid payload with arbitrary JSON."""
    doc = copy.deepcopy(base)
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for key in path[:-1]:
        if not isinstance(parent, (dict, list)) or (
            key not in parent if isinstance(parent, dict) else key >= len(parent)
        ):
            return doc  # this event has no such part (an acknowledge has no payload)
        parent = parent[key]
    if data.draw(st.booleans()):
        parent[path[-1]] = data.draw(json_values)
    elif isinstance(parent, dict):
        parent.pop(path[-1], None)
    return doc


AM_PATHS = [("version",), ("status",), ("alerts",), ("groupKey",), ("externalURL",), ("commonLabels",),
            ("alerts", 0), ("alerts", 0, "status"), ("alerts", 0, "labels"), ("alerts", 0, "labels", "severity"),
            ("alerts", 0, "labels", "service"), ("alerts", 0, "annotations"), ("alerts", 0, "annotations", "summary"),
            ("alerts", 0, "startsAt"), ("alerts", 0, "endsAt"), ("alerts", 0, "fingerprint"),
            ("alerts", 0, "generatorURL"), ("alerts", 1)]
GRAFANA_PATHS = [*AM_PATHS, ("alerts", 0, "values"), ("alerts", 0, "dashboardURL"), ("title",), ("state",)]
PD_PATHS = [("event_action",), ("dedup_key",), ("payload",), ("payload", "summary"), ("payload", "source"),
            ("payload", "severity"), ("payload", "timestamp"), ("payload", "custom_details"),
            ("payload", "component"), ("links",), ("images",), ("client_url",)]


def check(response, before: int) -> None:
    assert response.status_code < 500, response.content
    after = AlertIntake.objects.count()
    if response.status_code == 202:
        assert after in (before, before + 1)  # a new row, or a retry of one already stored
        # Anything accepted must be processable: the worker never finds a row it cannot handle.
        for intake in AlertIntake.objects.filter(status="queued"):
            processed = intake_services.alert_intake_process(intake_id=intake.pk)
            assert processed.status == "processed", processed.error
    else:
        assert 400 <= response.status_code < 500 and after == before


@FUZZ
@given(data=st.data())
def test_alertmanager_endpoint_never_fails_on_arbitrary_json(am_client, data):
    body = data.draw(st.one_of(
        json_values.map(lambda v: {"v": v}), st.just(None).map(lambda _: mutate(am_payload(), AM_PATHS, data))
    ))
    before = AlertIntake.objects.count()
    response = am_client.post("/api/v1/integrations/alertmanager", data=json.dumps(body),
                              content_type="application/json")
    check(response, before)


@FUZZ
@given(data=st.data())
def test_grafana_endpoint_never_fails_on_arbitrary_json(integration_client, data):
    client = integration_client("grafana")
    body = data.draw(st.one_of(
        json_values, st.just(None).map(lambda _: mutate(grafana_payload(), GRAFANA_PATHS, data))
    ))
    before = AlertIntake.objects.count()
    response = client.post("/api/v1/integrations/grafana", data=json.dumps(body), content_type="application/json")
    check(response, before)


@FUZZ
@given(data=st.data())
def test_pagerduty_endpoint_never_fails_on_arbitrary_json(client, pd_integration, data):
    _, token = pd_integration
    action = data.draw(st.sampled_from(["trigger", "acknowledge", "resolve"]))
    base = pd_event(action, routing_key=token, dedup_key=data.draw(st.sampled_from([None, "k1"])))
    body = data.draw(st.one_of(json_values, st.just(None).map(lambda _: mutate(base, PD_PATHS, data))))
    before = AlertIntake.objects.count()
    response = client.post("/api/v1/integrations/pagerduty/v2/enqueue", data=json.dumps(body),
                           content_type="application/json")
    check(response, before)


@FUZZ
@given(raw=st.binary(max_size=200))
def test_arbitrary_bytes_are_a_400_not_a_500(am_client, raw):
    before = AlertIntake.objects.count()
    response = am_client.post("/api/v1/integrations/alertmanager", data=raw, content_type="application/json")
    assert response.status_code == 400 and AlertIntake.objects.count() == before
    assert Alert.objects.count() == 0
