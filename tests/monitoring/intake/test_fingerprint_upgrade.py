"""Alerts stored before keys were per integration: the upgrade scopes them, so their own integration
still settles them and no other can."""
from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.utils import timezone

from incidents.models import Alert

from .conftest import pd_event

PD_URL = "/api/v1/integrations/pagerduty/v2/enqueue"
migration = importlib.import_module("monitoring.migrations.0006_scope_alert_fingerprints")
pytestmark = pytest.mark.django_db


def old_alert(*, integration, fingerprint: str, service=None) -> Alert:
    now = timezone.now()
    return Alert.objects.create(
        fingerprint=fingerprint, source_kind=integration.kind, source_name=integration.name,
        service=service or integration.service, title="Disk almost full", first_seen=now, last_seen=now,
    )


def test_the_upgrade_scopes_stored_keys_to_the_integration_that_sent_them(
    client, make_integration, django_capture_on_commit_callbacks
):
    owner, owner_token = make_integration("pagerduty")
    _, other_token = make_integration("pagerduty")
    stored = old_alert(integration=owner, fingerprint="disk-db-1")
    very_long = old_alert(integration=owner, fingerprint="k" * 255)
    unrelated = Alert.objects.create(fingerprint="cron-1", source_kind="generic", source_name="cron",
                                     service=owner.service, title="x", first_seen=timezone.now(),
                                     last_seen=timezone.now())

    migration.scope_fingerprints(apps, None)

    stored.refresh_from_db()
    very_long.refresh_from_db()
    assert stored.fingerprint == owner.scoped_fingerprint("disk-db-1")
    assert very_long.fingerprint == owner.scoped_fingerprint("k" * 255) and len(very_long.fingerprint) <= 255
    assert Alert.objects.get(pk=unrelated.pk).fingerprint == "cron-1"  # not an integration's
    def post(event):
        return client.post(PD_URL, data=json.dumps(event), content_type="application/json")

    with django_capture_on_commit_callbacks(execute=True):
        post(pd_event("resolve", routing_key=other_token, dedup_key="disk-db-1"))
        assert Alert.objects.get(pk=stored.pk).status == "firing"
        post(pd_event("resolve", routing_key=owner_token, dedup_key="disk-db-1"))
    assert Alert.objects.get(pk=stored.pk).status == "resolved"
    migration.unscope_fingerprints(apps, None)
    assert Alert.objects.get(pk=stored.pk).fingerprint == "disk-db-1"
