"""Admin changes to services, integrations, playbooks and policies are audited: who, when, before and after,
with secrets left out."""
from __future__ import annotations

import pytest
from django.test import Client

from core.choices import Role
from core.models import AuditEntry, Integration
from incidents.models import Playbook, PlaybookStep

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff(make_user):
    user = make_user(Role.ADMIN, username="auditor", is_staff=True, is_superuser=True)
    client = Client()
    client.force_login(user)
    return client


def test_a_service_change_in_the_admin_records_who_and_the_before_and_after(staff, make_service):
    service = make_service("audited-api", tier=3)
    response = staff.post(f"/admin/core/service/{service.pk}/change/", {
        "name": service.name, "team": service.team_id, "tier": 1, "downtime_cost_per_minute": "10.00",
        "owner_email": "", "description": "now tier 1",
    })
    assert response.status_code == 302, response.content[:2000]
    entry = AuditEntry.objects.get(object_type="core.service")
    assert (entry.actor_name, entry.action, entry.object_id) == ("auditor", "update", str(service.pk))
    assert entry.before["tier"] == 3 and entry.after["tier"] == 1
    assert entry.after["description"] == "now tier 1"


def test_an_integration_secret_is_never_copied_into_the_log(staff, make_integration):
    integration, _ = make_integration("grafana", secret="hunter2")
    response = staff.post(f"/admin/core/integration/{integration.pk}/change/", {
        "name": integration.name, "kind": "grafana", "service": integration.service_id,
        "secret": "correct-horse", "rate_limit_per_minute": "",
        # the intake rows shown inline (read-only): an empty formset
        "alert_intakes-TOTAL_FORMS": "0", "alert_intakes-INITIAL_FORMS": "0",
    })
    assert response.status_code == 302, response.content.decode()[-3000:]
    assert Integration.objects.get(pk=integration.pk).secret == "correct-horse"
    entry = AuditEntry.objects.get(object_type="core.integration")
    text = str(entry.before) + str(entry.after)
    assert "hunter2" not in text and "correct-horse" not in text
    assert entry.before["secret"].startswith("set (") and entry.after["secret"] != entry.before["secret"]


def test_deleting_a_playbook_keeps_its_steps_in_the_log(staff):
    playbook = Playbook.objects.create(name="Audited playbook")
    PlaybookStep.objects.create(playbook=playbook, position=1, title="Look at the graphs")
    response = staff.post(f"/admin/incidents/playbook/{playbook.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    entry = AuditEntry.objects.get(object_type="incidents.playbook")
    assert entry.action == "delete" and entry.after is None
    assert [step["title"] for step in entry.before["steps"]] == ["Look at the graphs"]


def test_the_log_is_read_only_in_the_admin(staff):
    assert staff.get("/admin/core/auditentry/").status_code == 200
    assert staff.get("/admin/core/auditentry/add/").status_code == 403
