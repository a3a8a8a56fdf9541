"""Which integration tokens may write where: each endpoint takes its kinds, each token its services.

An integration files under its default service and the extra services an admin gave it; signals,
telemetry and OTLP naming any other service are refused with 403 and store nothing.
"""
from __future__ import annotations

import time
from io import StringIO

import orjson
import pytest
from django.core.management import call_command
from google.protobuf import json_format
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue

from core.choices import IntegrationKind
from core.selectors import integration_get_by_token
from incidents.models import Alert
from monitoring.models import TelemetryBatch

pytestmark = pytest.mark.django_db


def signal(client, **body):
    return client.post("/api/v1/signals/", {"title": "Queue backlog", **body}, format="json")


def telemetry(client, service: str):
    point = {"service": service, "metric": "latency_ms", "timestamp": time.time() - 60, "value": 1.0}
    return client.post("/api/v1/telemetry", data=orjson.dumps({"points": [point]}), content_type="application/json")


def otlp(client, service: str):
    request = ExportMetricsServiceRequest()
    rm = request.resource_metrics.add()
    rm.resource.attributes.append(KeyValue(key="service.name", value=AnyValue(string_value=service)))
    metric = rm.scope_metrics.add().metrics.add()
    metric.name = "cpu.utilisation"
    point = metric.gauge.data_points.add()
    point.time_unix_nano, point.as_double = int(time.time() * 1e9), 0.5
    return client.post("/otlp/v1/metrics", data=json_format.MessageToJson(request), content_type="application/json")


# --- services -------------------------------------------------------------------------------------


def test_a_signal_for_a_service_outside_the_tokens_list_is_403_naming_it(integration_client, make_service):
    make_service("payments")
    client = integration_client("generic", service=make_service("checkout-api"))
    response = signal(client, service="payments")
    assert response.status_code == 403
    assert "'payments'" in response.json()["detail"] and "'checkout-api'" in response.json()["detail"]
    assert not Alert.objects.exists()
    client.integration.extra_services.add(make_service("search-api"))
    assert signal(client, service="search-api").status_code == 202
    assert signal(client, service="no-such-service").status_code == 400  # unknown stays a 400


def test_telemetry_for_a_service_outside_the_tokens_list_is_403_and_stores_nothing(integration_client, make_service):
    make_service("payments")
    client = integration_client("generic", service=make_service("checkout-api"))
    response = telemetry(client, "payments")
    assert response.status_code == 403 and "'payments'" in response.json()["detail"]
    assert not TelemetryBatch.objects.exists()
    assert telemetry(client, "checkout-api").status_code == 202
    assert telemetry(client, "no-such-service").status_code == 400


def test_otlp_for_a_service_outside_the_tokens_list_is_403_in_otlp_form(integration_client, make_service):
    make_service("payments")
    client = integration_client(IntegrationKind.OTLP, service=make_service("checkout-api"))
    response = otlp(client, "payments")
    assert response.status_code == 403
    body = response.json()
    assert body["code"] == 7 and "'payments'" in body["message"]  # google.rpc.Status PERMISSION_DENIED
    assert not TelemetryBatch.objects.exists()
    assert otlp(client, "checkout-api").status_code == 200


def test_extra_services_are_accepted_on_every_endpoint(make_integration, make_service, client):
    from rest_framework.test import APIClient

    own, extra = make_service("checkout-api"), make_service("payments")
    _, token = make_integration("generic", service=own)
    integration_get_by_token(token=token).extra_services.add(extra)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    assert signal(api, service="payments").status_code == 202
    assert telemetry(api, "payments").status_code == 202
    assert otlp(api, "payments").status_code == 200


# --- kinds ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "send", "allowed"),
    [
        pytest.param("alertmanager", lambda c: signal(c), "generic or model", id="signals_alertmanager"),
        pytest.param("pagerduty", lambda c: signal(c), "generic or model", id="signals_pagerduty"),
        pytest.param("otlp", lambda c: signal(c), "generic or model", id="signals_otlp"),
        pytest.param("grafana", lambda c: telemetry(c, c.integration.service.name), "generic, model or otlp",
                     id="telemetry_grafana"),
        pytest.param("pagerduty", lambda c: otlp(c, c.integration.service.name), "generic or otlp",
                     id="otlp_pagerduty"),
    ],
)
def test_each_endpoint_takes_only_its_token_kinds(integration_client, kind, send, allowed):
    client = integration_client(kind)
    response = send(client)
    assert response.status_code == 403
    text = response.content.decode()
    assert allowed in text and f"not a {kind} one" in text
    assert not Alert.objects.exists() and not TelemetryBatch.objects.exists()


@pytest.mark.parametrize("kind", ["generic", "model"])
def test_generic_and_model_tokens_post_signals(integration_client, kind):
    assert signal(integration_client(kind)).status_code == 202


# --- fingerprints on the native signal endpoint ---------------------------------------------------


def test_a_generic_token_cannot_resolve_another_tokens_signal_by_fingerprint(integration_client, make_service):
    service = make_service("checkout-api")
    owner = integration_client("generic", service=service)
    other = integration_client("generic", service=service)  # even one filing under the same service
    assert signal(owner, fingerprint="queue-emails").json()["outcome"] == "opened"
    assert signal(other, fingerprint="queue-emails", status="resolved").status_code == 202
    assert Alert.objects.get(source_name=owner.integration.name).status == "firing"
    assert signal(owner, fingerprint="queue-emails", status="resolved").json()["outcome"] == "resolved"


# --- how integrations are given their services ----------------------------------------------------


def test_createintegration_takes_extra_services(make_service):
    make_service("checkout-api")
    make_service("payments")
    make_service("search-api")
    out = StringIO()
    call_command("createintegration", "--kind", "alertmanager", "--service", "checkout-api",
                 "--also-service", "payments", "--also-service", "search-api", stdout=out)
    token = next(line.split(": ", 1)[1] for line in out.getvalue().splitlines() if line.startswith("Token"))
    integration = integration_get_by_token(token=token)
    assert set(integration.extra_services.values_list("name", flat=True)) == {"payments", "search-api"}
    assert "may file under: checkout-api, payments, search-api" in out.getvalue()


def test_the_admin_edits_an_integrations_extra_services(admin_client, integration_client, make_service):
    agent = integration_client("generic", service=make_service("checkout-api"))
    integration = agent.integration
    payments = make_service("payments")
    assert signal(agent, service="payments").status_code == 403
    page = admin_client.get(f"/admin/core/integration/{integration.pk}/change/")
    assert page.status_code == 200 and b"extra_services" in page.content
    form = {"name": integration.name, "kind": integration.kind, "service": integration.service_id,
            "extra_services": [payments.pk], "secret": "", "rate_limit_per_minute": ""}
    for inline in page.context["inline_admin_formsets"]:  # the recent-intake list shown below the form
        management = inline.formset.management_form
        form.update({management.add_prefix(k): v for k, v in management.initial.items()})
    response = admin_client.post(f"/admin/core/integration/{integration.pk}/change/", form)
    assert response.status_code == 302, response.context["adminform"].form.errors
    assert list(integration.extra_services.all()) == [payments]
    # This process files by the new list at once (others within the integration cache's seconds).
    assert signal(agent, service="payments").status_code == 202
