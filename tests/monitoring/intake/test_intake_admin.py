"""Admin: an integration's page lists its recent alert requests; failed rows can be replayed."""
from __future__ import annotations

import json

import pytest

from incidents.models import Alert
from monitoring.models import AlertIntake
from monitoring.services import intake as intake_services

from .conftest import am_alert, am_payload

pytestmark = pytest.mark.django_db


def test_the_integration_page_shows_last_received_and_recent_intake_rows(
    am_client, admin_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for i in range(12):
            am_client.post("/api/v1/integrations/alertmanager", data=json.dumps(am_payload(am_alert(instance=str(i)))),
                           content_type="application/json")
    intake_services.integration_receipts_flush()
    page = admin_client.get(f"/admin/core/integration/{am_client.integration.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode().lower()
    assert "recent alert intake" in html
    assert html.count("/admin/monitoring/alertintake/") >= 10
    listing = admin_client.get("/admin/core/integration/").content.decode()
    assert '<td class="field-received_count">12</td>' in listing


def test_a_failed_row_can_be_replayed_from_the_admin(am_client, admin_client, django_capture_on_commit_callbacks):
    am_client.post("/api/v1/integrations/alertmanager", data=json.dumps(am_payload()), content_type="application/json")
    intake = AlertIntake.objects.get()
    AlertIntake.objects.update(status="failed", error="boom")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post("/admin/monitoring/alertintake/",
                                     {"action": "replay", "_selected_action": [intake.pk]})
    assert response.status_code == 302
    intake.refresh_from_db()
    assert intake.status == "processed" and Alert.objects.count() == 2
    assert admin_client.get(f"/admin/monitoring/alertintake/{intake.pk}/change/").status_code == 200
