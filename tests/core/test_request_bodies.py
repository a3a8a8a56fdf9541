"""Request bodies as agents send them: chunked uploads are read, oversized ones get a JSON 413."""
from __future__ import annotations

import io
import json

import pytest
from django.test.client import ClientHandler

from core.choices import Role
from incidents.models import Alert

pytestmark = pytest.mark.django_db


def chunked_environ(path: str, body: bytes, token: str) -> dict:
    """A WSGI environ as gunicorn builds it for `Transfer-Encoding: chunked`: no CONTENT_LENGTH,
    the de-chunked body on wsgi.input."""
    return {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": path,
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "HTTP_HOST": "testserver",
        "HTTP_TRANSFER_ENCODING": "chunked",
        "HTTP_AUTHORIZATION": f"Bearer {token}",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": io.StringIO(),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def test_a_chunked_signal_without_content_length_is_read(integration_client):
    client = integration_client("generic")
    body = json.dumps({"title": "Queue backlog", "severity": "error"}).encode()
    response = ClientHandler()(chunked_environ("/api/v1/signals/", body, client.token))
    assert response.status_code == 202, response.content
    assert Alert.objects.get().title == "Queue backlog"


def test_a_chunked_pagerduty_event_is_read(integration_client):
    client = integration_client("pagerduty")
    event = {"routing_key": client.token, "event_action": "trigger", "dedup_key": "disk-1",
             "payload": {"summary": "Disk full", "source": "db-1", "severity": "error"}}
    environ = chunked_environ("/api/v1/integrations/pagerduty/v2/enqueue", json.dumps(event).encode(), "")
    del environ["HTTP_AUTHORIZATION"]  # PagerDuty carries the token in the body
    response = ClientHandler()(environ)
    assert response.status_code == 202, response.content
    assert json.loads(response.content)["dedup_key"] == "disk-1"  # an empty body would be a 400


def test_a_chunked_body_over_the_limit_gets_413_json(integration_client, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    client = integration_client("generic")
    body = json.dumps({"title": "x", "description": "y" * 10_000}).encode()
    response = ClientHandler()(chunked_environ("/api/v1/signals/", body, client.token))
    assert response.status_code == 413
    assert json.loads(response.content)["limit"] == 4096
    assert not Alert.objects.exists()


@pytest.mark.parametrize("content_type", ["application/json", "application/x-www-form-urlencoded"])
def test_an_oversized_api_body_gets_413_json_naming_the_limit(client_as, make_team, settings, content_type):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 2048
    client = client_as(Role.ADMIN)
    if content_type == "application/json":
        body = json.dumps({"name": "x" * 5000, "team": make_team().pk})
    else:
        body = "name=" + "x" * 5000
    response = client.post("/api/v1/services/", body, content_type=content_type)
    assert response.status_code == 413
    assert response["Content-Type"] == "application/json"
    assert "2048 bytes" in response.json()["detail"]
