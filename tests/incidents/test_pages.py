"""Incident pages: the queue, the detail page with its actions, and the noise-reduction report."""
from __future__ import annotations

import pytest

from core.choices import Role, Tier
from incidents.models import Incident

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_client(client, make_user):
    def login(*roles):
        user = make_user(*roles)
        client.force_login(user)
        return client

    return login


@pytest.fixture
def incident(make_service, ingest):
    result = ingest(make_service("checkout", tier=Tier.TIER_1), labels={"alertname": "Errors"})
    ingest("checkout", "Latency", labels={"alertname": "Latency"})
    return Incident.objects.get(pk=result.incident_id)


def test_the_queue_shows_open_incidents_with_level_badges(incident, page_client):
    body = page_client(Role.MANAGER).get("/incidents/").content.decode()
    assert incident.title in body and 'class="badge sev-2"' in body


def test_the_detail_page_shows_alerts_reasons_and_timeline(incident, page_client):
    body = page_client(Role.MANAGER).get(f"/incidents/{incident.pk}/").content.decode()
    assert "Latency" in body and "blast radius: tier-1 service checkout affected" in body
    assert "Opened by alert" in body
    assert "Acknowledge</button>" not in body  # managers read only


def test_an_operator_acknowledges_from_the_page(incident, page_client):
    client = page_client(Role.OPERATOR)
    assert "Acknowledge</button>" in client.get(f"/incidents/{incident.pk}/").content.decode()
    response = client.post(f"/incidents/{incident.pk}/acknowledge/")
    assert response.status_code == 302
    incident.refresh_from_db()
    assert incident.status == "acknowledged"


def test_an_illegal_page_action_shows_the_reason(incident, page_client):
    client = page_client(Role.OPERATOR)
    response = client.post(f"/incidents/{incident.pk}/close/", follow=True)
    assert "A triggered incident cannot become closed." in response.content.decode()


def test_a_manager_cannot_act_from_the_page(incident, page_client):
    assert page_client(Role.MANAGER).post(f"/incidents/{incident.pk}/acknowledge/").status_code == 403


def test_the_noise_page_reports_signals_against_incidents(incident, page_client):
    body = page_client(Role.MANAGER).get("/incidents/noise/").content.decode()
    assert "noise-by-service" in body and "checkout" in body


def test_the_home_page_shows_open_incidents_by_level_and_mtta_mttr(incident, page_client):
    body = page_client(Role.MANAGER).get("/").content.decode()
    assert "Open L2 High" in body and "MTTA / MTTR (30 days)" in body
