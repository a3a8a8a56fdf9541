"""Admins edit playbooks (inline ordered steps) and notification policies in the Django admin."""
from __future__ import annotations

import pytest

from incidents.models import NotificationPolicy, Playbook

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_browser(client, make_user):
    client.force_login(make_user(is_staff=True, is_superuser=True))
    return client


def test_admin_lists_the_default_playbooks_and_policies(admin_browser):
    assert "Model drift or degradation" in admin_browser.get("/admin/incidents/playbook/").content.decode()
    policy = NotificationPolicy.objects.get(severity=1)
    page = admin_browser.get(f"/admin/incidents/notificationpolicy/{policy.pk}/change/").content.decode()
    assert "escalation_steps" in page


def test_an_action_step_without_an_action_name_is_rejected(admin_browser):
    form = {
        "name": "Disk full", "priority": "0", "severities": "[]", "source_kinds": "[]", "labels": "{}",
        "keywords": "disk", "enabled": "on",
        "steps-TOTAL_FORMS": "1", "steps-INITIAL_FORMS": "0", "steps-MIN_NUM_FORMS": "0", "steps-MAX_NUM_FORMS": "1000",
        "steps-0-position": "1", "steps-0-phase": "immediate", "steps-0-title": "Free space", "steps-0-kind": "action",
        "steps-0-params": "{}", "steps-0-action_name": "",
    }

    response = admin_browser.post("/admin/incidents/playbook/add/", form)

    assert response.status_code == 200
    assert "Name a registered action" in response.content.decode()
    assert not Playbook.objects.filter(name="Disk full").exists()
