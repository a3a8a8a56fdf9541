"""Authentication and roles on the API: 401 without credentials, 403 without the role."""
from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from core.choices import Role
from core.models import ConnectionTest
from core.services import integration_revoke

pytestmark = pytest.mark.django_db


def test_anonymous_requests_to_the_api_get_401():
    response = APIClient().get("/api/v1/services/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_an_operator_reads_services_but_cannot_create_one(client_as, make_team):
    client = client_as(Role.OPERATOR)
    assert client.get("/api/v1/services/").status_code == 200
    team = make_team("Ops")
    response = client.post("/api/v1/services/", {"name": "x", "team": team.slug}, format="json")
    assert response.status_code == 403


def test_an_admin_creates_a_service(client_as, make_team):
    team = make_team("Ops")
    response = client_as(Role.ADMIN).post(
        "/api/v1/services/", {"name": "billing", "team": team.slug, "tier": 1}, format="json"
    )
    assert response.status_code == 201, response.json()
    assert response.json()["tier"] == 1


def test_a_person_without_any_role_gets_403(make_user):
    client = APIClient()
    client.force_authenticate(make_user())
    assert client.get("/api/v1/services/").status_code == 403


def test_a_person_can_use_an_api_token(make_user):
    from rest_framework.authtoken.models import Token

    user = make_user(Role.MANAGER)
    token = Token.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    assert client.get("/api/v1/services/").status_code == 200


def test_an_integration_token_cannot_read_people_endpoints(integration_client):
    assert integration_client().get("/api/v1/services/").status_code == 403


def test_an_unknown_integration_token_gets_401():
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer aiops_not-a-real-token")
    assert client.post("/api/v1/integrations/test").status_code == 401


def test_a_revoked_integration_token_gets_401(integration_client):
    client = integration_client()
    assert client.post("/api/v1/integrations/test").status_code == 202
    integration_revoke(integration=client.integration)
    response = client.post("/api/v1/integrations/test")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_a_connection_test_is_processed_and_counted(integration_client, django_capture_on_commit_callbacks):
    client = integration_client()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/api/v1/integrations/test")
    assert response.status_code == 202
    test = ConnectionTest.objects.get(pk=response.json()["id"])
    assert test.processed_at is not None
    client.integration.refresh_from_db()
    assert client.integration.received_count == 1
    assert client.get("/api/v1/integrations/test").json()["processed"] is True


def test_malformed_json_gets_400_with_a_message(client_as, make_team):
    response = client_as(Role.ADMIN).post("/api/v1/services/", "{not json", content_type="application/json")
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]


def test_the_openapi_schema_needs_a_login_and_describes_the_api(client_as):
    assert APIClient().get("/api/schema/").status_code == 401
    response = client_as(Role.OPERATOR).get("/api/schema/?format=json")
    assert response.status_code == 200
    assert "/api/v1/services/" in response.json()["paths"]
