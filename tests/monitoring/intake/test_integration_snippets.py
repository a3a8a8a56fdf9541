"""`createintegration` prints a snippet per agent kind that works when pasted as printed."""
from __future__ import annotations

import json
import re
from io import StringIO

import pytest
import yaml
from django.core.management import call_command

from monitoring.models import AlertIntake

from .conftest import am_payload, pd_event

pytestmark = pytest.mark.django_db


def create(kind: str, *extra: str) -> str:
    out = StringIO()
    call_command("createintegration", "--kind", kind, "--service", "checkout-api",
                 "--url", "https://aiops.example.com", *extra, stdout=out)
    return out.getvalue()


def token_of(output: str) -> str:
    return re.search(r"Token \(shown only once, store it now\): (\S+)", output).group(1)


def test_the_alertmanager_snippet_is_a_receivers_block_with_the_token(make_service, client):
    make_service("checkout-api")
    output = create("alertmanager")
    token = token_of(output)
    config = yaml.safe_load(output[output.index("# alertmanager.yml"):])
    webhook = config["receivers"][0]["webhook_configs"][0]
    assert config["route"]["receiver"] == config["receivers"][0]["name"]
    assert webhook["url"] == "https://aiops.example.com/api/v1/integrations/alertmanager"
    assert webhook["http_config"]["authorization"] == {"type": "Bearer", "credentials": token}
    assert webhook["send_resolved"] is True
    # The printed credentials work on the printed path.
    response = client.post("/api/v1/integrations/alertmanager", data=json.dumps(am_payload()),
                           content_type="application/json", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 202


def test_the_pagerduty_snippet_has_pagerduty_configs_and_a_client_example(make_service, client):
    make_service("checkout-api")
    output = create("pagerduty")
    token = token_of(output)
    config = yaml.safe_load(output[output.index("receivers:"):])
    pd = config["receivers"][0]["pagerduty_configs"][0]
    assert pd == {"url": "https://aiops.example.com/api/v1/integrations/pagerduty/v2/enqueue",
                  "routing_key": token, "send_resolved": True}
    assert f'pdpyras.EventsAPISession("{token}")' in output
    assert client.post("/api/v1/integrations/pagerduty/v2/enqueue", data=json.dumps(pd_event(routing_key=token)),
                       content_type="application/json").status_code == 202


def test_the_grafana_snippet_describes_the_contact_point(make_service):
    make_service("checkout-api")
    output = create("grafana", "--secret", "s3cret")
    assert "URL:               https://aiops.example.com/api/v1/integrations/grafana" in output
    assert f"Credentials:       {token_of(output)}" in output
    assert "X-Grafana-Alerting-Signature" in output


def test_the_generic_snippet_still_shows_a_signal(make_service):
    make_service("checkout-api")
    assert "/api/v1/signals/" in create("generic")
    assert not AlertIntake.objects.exists()
