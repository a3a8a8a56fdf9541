"""Session and token expiry settings, and the security headers every response carries."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core.authentication import integration_cache_forget
from core.choices import Role
from core.models import Integration

pytestmark = pytest.mark.django_db


def test_a_persons_api_token_expires_after_the_configured_days(make_user, settings):
    settings.API_TOKEN_MAX_AGE_DAYS = 30
    token = Token.objects.create(user=make_user(Role.MANAGER))
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token.key}")
    assert client.get("/api/v1/incidents/").status_code == 200
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - timedelta(days=31))
    response = client.get("/api/v1/incidents/")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_an_integration_token_expires_only_when_a_maximum_age_is_set(integration_client, settings):
    client = integration_client()
    Integration.objects.filter(pk=client.integration.pk).update(created_at=timezone.now() - timedelta(days=400))
    integration_cache_forget()
    assert client.post("/api/v1/integrations/test", {}, format="json").status_code != 401
    settings.INTEGRATION_TOKEN_MAX_AGE_DAYS = 365
    integration_cache_forget()
    response = client.post("/api/v1/integrations/test", {}, format="json")
    assert response.status_code == 401 and "expired" in response.json()["detail"]


def test_sessions_last_a_shift_by_default(settings):
    assert settings.SESSION_COOKIE_AGE == 12 * 3600 and settings.SESSION_COOKIE_HTTPONLY


def test_every_response_carries_the_security_headers(client, make_user):
    client.force_login(make_user(Role.OPERATOR))
    for path in ("/incidents/", "/api/v1/incidents/", "/login/"):
        response = client.get(path)
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Referrer-Policy"] == "same-origin", path
        assert response["Cross-Origin-Opener-Policy"] == "same-origin", path
        assert "Content-Security-Policy" in response, path
