"""On PostgreSQL (text cannot hold NUL) a NUL in a page's form field or a query string is a 400, not a 500."""
from __future__ import annotations

import pytest
from django.test import Client

from core.choices import Role
from incidents.contracts import SignalIn
from incidents.services import signal_ingest

pytestmark = [pytest.mark.integration, pytest.mark.django_db]


def test_a_nul_in_a_note_or_a_filter_is_a_400_on_postgresql(make_user, make_service):
    service = make_service("nul-pg")
    incident_id = signal_ingest(signal=SignalIn(source_kind="generic", source_name="t", service=service.name,
                                                title="Errors")).incident_id
    client = Client(raise_request_exception=False)
    client.force_login(make_user(Role.OPERATOR))
    assert client.post(f"/incidents/{incident_id}/note/", {"text": "bad\x00note"}).status_code == 400
    assert client.post(f"/incidents/{incident_id}/resolve/", {"note": "x\x00"}).status_code == 400
    assert client.get("/incidents/", {"service": "a\x00b"}).status_code == 400
