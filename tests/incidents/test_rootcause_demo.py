"""The demo's storm incident shows a probable root cause and the past incidents that resolved the same fault,
and the demo disk gets a projected line to its limit."""
from __future__ import annotations

import io

import pytest

from aiops.demo import load_organisation
from core.choices import Role
from incidents import demo as incidents_demo
from incidents.models import Incident
from monitoring import demo_insights
from monitoring.models import CapacityForecast

pytestmark = pytest.mark.django_db


def test_the_storm_shows_its_root_cause_and_similar_past_incidents(client, make_user):
    load_organisation()
    out = io.StringIO()
    demo_insights.run(out)
    incidents_demo.run(out)
    demo_insights.run_capacity(out)
    storm = Incident.objects.get(severity=1, status="acknowledged")
    client.force_login(make_user(Role.OPERATOR))
    body = client.get(f"/incidents/{storm.pk}/").content.decode()
    assert "Probable root cause" in body
    assert "web-frontend → checkout-api → postgres-main" in body
    assert "Similar past incidents" in body and "recurrence" in body
    assert "pgbouncer pool to 600" in body  # what resolved it last time
    forecast = CapacityForecast.objects.get(series__metric="disk_used_gb")
    assert forecast.expected_at is not None and forecast.signal_open
    demo_insights.run(out)
    assert "already loaded" in out.getvalue()
