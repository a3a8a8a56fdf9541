"""Every page needs a role, as the API does: a signed-in person without one gets 403 naming the roles."""
from __future__ import annotations

import pytest
from django.test import Client
from django.utils import timezone

from core.choices import Role
from incidents.contracts import SignalIn
from incidents.services import signal_ingest
from models_registry.services import registered_model_get_or_create

pytestmark = pytest.mark.django_db


@pytest.fixture
def pages(make_service, make_series) -> list[str]:
    """Every page URL (GET), with one incident, one series and one model to show."""
    service = make_service("checkout-api")
    opened = signal_ingest(signal=SignalIn(source_kind="generic", source_name="t", service=service.name,
                                           title="Errors", occurred_at=timezone.now()))
    series = make_series(service=service, metric="latency_ms", unit="ms")
    registered_model_get_or_create(name="journey-time", pipeline="flights.journey_time", team=service.team,
                                   service=service)
    return [
        "/", "/reports/",
        "/incidents/", "/incidents/noise/", f"/incidents/{opened.incident_id}/",
        "/incidents/notifications/",
        "/monitoring/", f"/monitoring/series/{series.pk}/",
        "/models/", "/models/journey-time/",
        "/api/docs/", "/api/schema/",
    ]


def signed_in(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_a_person_without_a_role_gets_403_on_every_page(make_user, pages):
    client = signed_in(make_user())
    for path in pages:
        response = client.get(path)
        assert response.status_code == 403, path
    page = client.get("/incidents/")
    assert b"operator, manager, executive, admin" in page.content


@pytest.mark.parametrize("role", [Role.OPERATOR, Role.MANAGER, Role.EXECUTIVE, Role.ADMIN, "superuser"])
def test_a_person_with_any_role_reads_every_page(make_user, pages, role):
    user = make_user(is_superuser=True) if role == "superuser" else make_user(role)
    client = signed_in(user)
    for path in pages:
        assert client.get(path).status_code == 200, path


def test_a_person_without_a_role_cannot_act_through_a_page_either(make_user, make_service):
    service = make_service()
    opened = signal_ingest(signal=SignalIn(source_kind="generic", source_name="t", service=service.name,
                                           title="Errors"))
    client = signed_in(make_user())
    assert client.post(f"/incidents/{opened.incident_id}/acknowledge/").status_code == 403
    assert client.post("/incidents/notifications/read/").status_code == 403
    assert client.post("/incidents/notifications/preferences/").status_code == 403


def test_health_login_and_logout_stay_open_to_a_person_without_a_role(make_user):
    client = signed_in(make_user())
    assert client.get("/healthz").status_code == 200
    assert client.get("/readyz").status_code in (200, 503)
    assert client.get("/login/").status_code == 200
    assert client.post("/logout/").status_code == 302
