"""The admin's playbook editor: levels and source kinds as choices, labels as name = value rows, readable step
blocks, and a preview of the recent incidents a playbook would match."""
from __future__ import annotations

import pytest

from incidents.models import Playbook

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, make_user):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def new_playbook(**extra):
    return {
        "name": "Disk full", "priority": "0", "keywords": "", "enabled": "on", "description": "",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0",
        "steps-MAX_NUM_FORMS": "1000", "steps-0-position": "1", "steps-0-phase": "immediate",
        "steps-0-title": "Free space on the volume", "steps-0-kind": "checklist", "steps-0-params": "{}",
        "steps-0-owner_role": "operator", "steps-0-ticks_on": "",
    } | extra


def test_the_editor_shows_choices_label_rows_and_which_incidents_it_would_match(admin_browser, make_incident):
    critical = make_incident(severity=1, title="Checkout down")
    medium = make_incident(severity=3, title="Slow reports")
    playbook = Playbook.objects.get(name="Level 1 critical: system-wide failure")
    page = admin_browser.get(f"/admin/incidents/playbook/{playbook.pk}/change/").content.decode()
    assert 'type="checkbox" name="severities" value="1"' in page and "checked" in page
    assert 'name="source_kinds" value="model"' in page
    assert 'name="labels_k0"' in page and "raw JSON" not in page
    assert "Mobilise the team: open the bridge, name an incident lead" in page  # a whole title, in a text box
    assert f'href="/incidents/{critical.pk}/"' in page and f'href="/incidents/{medium.pk}/"' not in page


def test_saving_stores_levels_kinds_and_label_rows(admin_browser):
    response = admin_browser.post("/admin/incidents/playbook/add/", new_playbook(
        severities=["2", "1"], source_kinds=["alertmanager"], labels_k0="alertname", labels_v0="DiskFull",
        labels_k1="", labels_v1=""))
    assert response.status_code == 302, response.content.decode()[:2000]
    playbook = Playbook.objects.get(name="Disk full")
    assert playbook.severities == [1, 2] and playbook.source_kinds == ["alertmanager"]
    assert playbook.labels == {"alertname": "DiskFull"}
    assert playbook.steps.get().title == "Free space on the volume"


def test_a_label_without_a_value_is_refused_by_name(admin_browser):
    response = admin_browser.post("/admin/incidents/playbook/add/", new_playbook(labels_k0="alertname"))
    assert response.status_code == 200 and "Label &#x27;alertname&#x27; needs a value" in response.content.decode()
    assert not Playbook.objects.filter(name="Disk full").exists()
