"""The incident page's `model` panel: for a model incident, the model's performance chart (gaps where a week
was never measured) and a link to its page; absent on other incidents."""
from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.utils import timezone

from core.choices import Role
from incidents.panels import incident_panels, incident_panels_data
from models_registry.choices import MonitorKind, MonitorStatus
from models_registry.models import MonitorResult, MonitorRun

pytestmark = pytest.mark.django_db


def monitored(version, *, weeks: list[int], incident_id=None):
    start = timezone.now().replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(weeks=10)
    for week in weeks:
        end = start + timedelta(weeks=week + 1)
        run = MonitorRun.objects.create(model=version.model, version=version, period_start=end - timedelta(weeks=1),
                                        period_end=end)
        MonitorResult.objects.create(run=run, model=version.model, version=version, kind=MonitorKind.PERFORMANCE,
                                     period_start=end - timedelta(weeks=1), period_end=end,
                                     status=MonitorStatus.BREACH if week == weeks[-1] else MonitorStatus.OK,
                                     metrics={"mae": 10.0 + week, "too_optimistic_share": 0.1},
                                     reasons=["MAE above the bar"], incident_id=incident_id)


def test_a_model_incident_shows_the_models_chart_and_link(make_model_version, make_incident, make_alert, make_user,
                                                          client):
    version = make_model_version()
    incident = make_incident(service=version.model.service, source_kind="model", with_alert=False)
    make_alert(incident=incident, source_kind="model", labels={"model": version.model.name, "monitor": "performance"})
    monitored(version, weeks=[0, 1, 3])  # week 2 was never measured
    user = make_user(Role.EXECUTIVE)

    data = incident_panels_data(incident=incident, user=user)["model"]
    json.dumps(data)
    [entry] = data["models"]
    assert entry["name"] == version.model.name and entry["url"] == f"/models/{version.model.name}/"
    assert entry["chart"]["left"]["mae"] == [10.0, 11.0, None, 13.0]  # a gap, not a line through week 2
    assert entry["monitors"][0]["status"] == MonitorStatus.BREACH

    client.force_login(user)
    body = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert f'href="/models/{version.model.name}/"' in body and 'data-metrics="model-metrics-' in body


def test_a_monitor_result_that_raised_the_incident_names_the_model(make_model_version, make_incident, make_user):
    version = make_model_version()
    incident = make_incident()
    monitored(version, weeks=[0], incident_id=incident.pk)
    data = incident_panels_data(incident=incident, user=make_user(Role.OPERATOR))
    assert [m["name"] for m in data["model"]["models"]] == [version.model.name]


def test_it_is_absent_on_other_incidents(make_model_version, make_incident, make_user):
    make_model_version()
    incident = make_incident(labels={"model": "not-a-model-alert"})  # an alertmanager alert, not a model one
    assert "model" not in [p.key for p in incident_panels(incident=incident, user=make_user(Role.MANAGER))]
