"""Health endpoints answer without auth; every page needs a login."""
from __future__ import annotations

import pytest
from django.test import Client

from aiops import health
from core.choices import Role

pytestmark = pytest.mark.django_db


def test_healthz_answers_200_without_auth():
    response = Client().get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_reports_the_database_ready():
    response = Client().get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"


def test_readyz_names_the_failing_broker(settings):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["broker"]


def test_readyz_names_the_failing_database(monkeypatch):
    monkeypatch.setattr(health, "check_database", lambda: "error: OperationalError: down")
    response = Client().get("/readyz")
    assert response.status_code == 503
    assert response.json()["failing"] == ["database"]


@pytest.mark.parametrize("path", ["/", "/incidents/", "/monitoring/", "/models/", "/reports/"])
def test_pages_redirect_anonymous_people_to_the_login_page(path):
    response = Client().get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_a_signed_in_operator_sees_the_navigation(make_user):
    client = Client()
    client.force_login(make_user(Role.OPERATOR))
    html = client.get("/").content.decode()
    for label in ("Incidents", "Monitoring", "Models", "Reports"):
        assert f">{label}</a>" in html


def test_the_login_page_is_served():
    response = Client().get("/login/")
    assert response.status_code == 200
    assert b'name="password"' in response.content


def test_the_role_groups_exist_after_migrating():
    from django.contrib.auth.models import Group

    assert set(Group.objects.values_list("name", flat=True)) >= {r.value for r in Role}


def test_the_api_docs_page_loads_its_assets_locally(client):
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.create_user("docs", password="x")
    from django.contrib.auth.models import Group

    user.groups.add(Group.objects.get(name="operator"))
    client.force_login(user)
    html = client.get("/api/docs/").content.decode()
    assert "swagger-ui" in html
    assert "cdn.jsdelivr" not in html


def test_readyz_tells_anonymous_callers_only_which_component_failed(settings, caplog):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"  # nothing listens on port 1
    response = Client().get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["checks"]["broker"] == "error"
    assert "127.0.0.1" not in response.content.decode()
    assert "details" not in body
    # The operator still finds the driver's words in the log.
    assert any("127.0.0.1" in r.getMessage() or "Error" in r.getMessage() for r in caplog.records)


def test_readyz_shows_staff_the_driver_error(settings, make_user):
    settings.REDIS_URL = "redis://127.0.0.1:1/0"
    staff = make_user(Role.OPERATOR)
    staff.is_staff = True
    staff.save()
    client = Client()
    client.force_login(staff)
    body = client.get("/readyz").json()
    assert body["details"]["broker"].startswith("error: ")
