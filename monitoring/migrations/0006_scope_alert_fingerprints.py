"""Scope the fingerprints of alerts stored before keys were per integration.

Since this release an integration's dedup keys and fingerprints are stored as
`core.Integration.scoped_fingerprint(key)` ("i<integration id>:<key>"), so no other token can
resolve or acknowledge by them. Alerts stored earlier carry the bare key; they are rewritten
here so that the integration that raised them still re-triggers, acknowledges and resolves them
after the upgrade. An alert is attributed to the integration whose name and kind produced its
`source_name` and `source_kind`; when two integrations would match (a generic and an otlp one
of the same name), or none does (renamed or deleted), the alert keeps its bare key: nothing can
settle it by key any more, and an operator resolves it in the console.
"""
from __future__ import annotations

import hashlib

from django.db import migrations
from django.db.models import F, Value
from django.db.models.functions import Concat, Length

FINGERPRINT_MAX_CHARS = 255
# Integration kind -> the signal source kind its alerts were stored with.
SOURCE_KINDS = {
    "alertmanager": "alertmanager", "grafana": "grafana", "pagerduty": "pagerduty",
    "model": "model", "generic": "generic", "otlp": "generic",
}


def scoped(pk: int, fingerprint: str) -> str:
    """As core.Integration.scoped_fingerprint (a migration cannot call model methods)."""
    key = f"i{pk}:{fingerprint}"
    if len(key) <= FINGERPRINT_MAX_CHARS:
        return key
    return f"i{pk}:sha256:{hashlib.sha256(fingerprint.encode()).hexdigest()}"


def scope_fingerprints(apps, schema_editor) -> None:
    Integration = apps.get_model("core", "Integration")
    Alert = apps.get_model("incidents", "Alert")
    owners: dict[tuple[str, str], list[int]] = {}
    for pk, name, kind in Integration.objects.values_list("pk", "name", "kind"):
        if kind in SOURCE_KINDS:
            owners.setdefault((SOURCE_KINDS[kind], name[:100]), []).append(pk)
    for (source_kind, source_name), pks in owners.items():
        if len(pks) != 1:
            continue  # ambiguous: leave those alerts as they are
        prefix = f"i{pks[0]}:"
        alerts = Alert.objects.filter(source_kind=source_kind, source_name=source_name).exclude(
            fingerprint__startswith=prefix
        )
        long = alerts.annotate(n=Length("fingerprint")).filter(n__gt=FINGERPRINT_MAX_CHARS - len(prefix))
        for alert in long.only("pk", "fingerprint"):
            Alert.objects.filter(pk=alert.pk).update(fingerprint=scoped(pks[0], alert.fingerprint))
        alerts.update(fingerprint=Concat(Value(prefix), F("fingerprint")))


def unscope_fingerprints(apps, schema_editor) -> None:
    """Back to bare keys (hashed over-long keys stay hashed: their key is gone)."""
    Integration = apps.get_model("core", "Integration")
    Alert = apps.get_model("incidents", "Alert")
    for pk in Integration.objects.values_list("pk", flat=True):
        prefix = f"i{pk}:"
        for alert in Alert.objects.filter(fingerprint__startswith=prefix).only("pk", "fingerprint"):
            Alert.objects.filter(pk=alert.pk).update(fingerprint=alert.fingerprint[len(prefix):])


class Migration(migrations.Migration):
    dependencies = [
        ("monitoring", "0005_alert_intake_lease"),
        ("incidents", "0005_incident_hot_updates"),
        ("core", "0004_integration_extra_services"),
    ]

    operations = [migrations.RunPython(scope_fingerprints, unscope_fingerprints, elidable=True)]
