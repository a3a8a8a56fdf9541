"""Noise control: flapping alerts are held, persistence delays incidents, silences mute but keep alerts."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from incidents.choices import AlertHold, AlertStatus
from incidents.models import Alert, Incident, ServiceIncidentSettings
from incidents.services import pending_alerts_promote, silence_create, silence_expire
from incidents.services.silences import matcher_matches, matchers_clean

pytestmark = pytest.mark.django_db
LABELS = {"alertname": "DiskFull", "env": "prod"}


def test_an_alert_that_keeps_firing_and_resolving_is_held_as_one_flapping_alert(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, flap_threshold=3, flap_window_minutes=30)
    t0 = timezone.now() - timedelta(minutes=20)
    outcomes = []
    for i in range(4):
        outcomes.append(ingest(service, labels=LABELS, at=t0 + timedelta(minutes=2 * i)).outcome)
        ingest(service, labels=LABELS, status="resolved", at=t0 + timedelta(minutes=2 * i + 1))
    assert outcomes[0] == "opened"
    assert outcomes[-1] == "flapping"
    alert = Alert.objects.get()
    assert alert.hold == AlertHold.FLAPPING and Alert.objects.count() == 1
    # While flapping, repeats are counted but change nothing.
    assert ingest(service, labels=LABELS, at=t0 + timedelta(minutes=9)).outcome == "flapping"
    assert Incident.objects.count() == 1


def test_an_alert_that_calms_down_stops_flapping(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, flap_threshold=2, flap_window_minutes=10)
    t0 = timezone.now() - timedelta(hours=2)
    for i in range(3):
        ingest(service, labels=LABELS, at=t0 + timedelta(minutes=2 * i))
        ingest(service, labels=LABELS, status="resolved", at=t0 + timedelta(minutes=2 * i + 1))
    assert Alert.objects.get().hold == AlertHold.FLAPPING
    # Fires again long after the flap and reopen windows: a fresh alert and a fresh incident.
    result = ingest(service, labels=LABELS, at=t0 + timedelta(minutes=119))
    assert result.outcome == "opened"


def test_a_service_can_require_repeats_before_an_incident_opens(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, min_repeat_count=3)
    assert [ingest(service, labels=LABELS).outcome for _ in range(3)] == ["pending", "pending", "opened"]
    assert Incident.objects.count() == 1 and Alert.objects.get().hold == AlertHold.NONE


def test_a_service_can_require_persistence_before_an_incident_opens(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, min_persistence_seconds=120)
    t0 = timezone.now() - timedelta(minutes=5)
    assert ingest(service, labels=LABELS, at=t0).outcome == "pending"
    assert ingest(service, labels=LABELS, at=t0 + timedelta(seconds=60)).outcome == "pending"
    assert ingest(service, labels=LABELS, at=t0 + timedelta(seconds=130)).outcome == "opened"


def test_a_blip_that_resolves_before_persisting_never_becomes_an_incident(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, min_persistence_seconds=300)
    ingest(service, labels=LABELS)
    ingest(service, labels=LABELS, status="resolved")
    assert not Incident.objects.exists()
    assert Alert.objects.get().status == AlertStatus.RESOLVED


def test_a_pending_alert_that_persists_silently_is_promoted_by_the_periodic_sweep(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, min_persistence_seconds=120)
    ingest(service, labels=LABELS, at=timezone.now() - timedelta(minutes=3))
    assert pending_alerts_promote() == 1
    assert Incident.objects.count() == 1 and Alert.objects.get().incident_id is not None


@pytest.mark.parametrize(
    ("matcher", "labels", "expected"),
    [
        pytest.param({"label": "env", "op": "=", "value": "prod"}, {"env": "prod"}, True, id="equal_matches"),
        pytest.param({"label": "env", "op": "=", "value": "prod"}, {"env": "stage"}, False, id="equal_differs"),
        pytest.param({"label": "env", "op": "!=", "value": "prod"}, {"env": "stage"}, True, id="not_equal"),
        pytest.param({"label": "env", "op": "!=", "value": "prod"}, {}, True, id="not_equal_missing_label"),
        pytest.param({"label": "env", "op": "=~", "value": "prod|stage"}, {"env": "stage"}, True, id="regex"),
        pytest.param({"label": "env", "op": "=~", "value": "prod"}, {"env": "production"}, False,
                     id="regex_is_anchored"),
        pytest.param({"label": "env", "op": "!~", "value": "dev.*"}, {"env": "prod"}, True, id="negative_regex"),
        pytest.param({"label": "env", "op": "!~", "value": "dev.*"}, {"env": "dev-1"}, False,
                     id="negative_regex_excludes"),
    ],
)
def test_matchers_behave_like_alertmanager(matcher, labels, expected):
    assert matcher_matches(matcher, labels) is expected


@pytest.mark.parametrize(
    "matchers",
    [
        pytest.param([], id="empty"),
        pytest.param([{"label": "env", "op": "~", "value": "x"}], id="unknown_op"),
        pytest.param([{"label": "env", "op": "=~", "value": "("}], id="bad_regex"),
        pytest.param([{"label": "env", "op": "=~", "value": ".*"}], id="matches_everything"),
    ],
)
def test_bad_matchers_are_refused(matchers):
    from core.exceptions import InvalidInput

    with pytest.raises(InvalidInput) as info:
        matchers_clean(matchers)
    assert info.value.field == "matchers"


def test_a_silenced_alert_is_kept_and_visible_but_opens_no_incident(make_service, make_user, ingest):
    service = make_service()
    silence = silence_create(matchers=[{"label": "env", "op": "=", "value": "prod"},
                                       {"label": "service", "op": "=", "value": service.name}],
                             starts_at=None, ends_at=timezone.now() + timedelta(hours=1),
                             comment="maintenance", user=make_user("operator"))
    result = ingest(service, labels=LABELS)
    assert result.outcome == "silenced" and result.incident_id is None
    alert = Alert.objects.get()
    assert alert.hold == AlertHold.SILENCED and alert.silence == silence
    assert ingest(service, labels=LABELS).outcome == "silenced"
    assert Alert.objects.get().count == 2
    # Another environment is not silenced.
    assert ingest(service, labels={**LABELS, "env": "stage"}).outcome == "opened"


def test_an_ended_silence_lets_the_next_repeat_open_an_incident(make_service, ingest):
    service = make_service()
    silence = silence_create(matchers=[{"label": "alertname", "op": "=~", "value": "Disk.*"}], starts_at=None,
                             ends_at=timezone.now() + timedelta(hours=1), comment="noisy disks")
    assert ingest(service, labels=LABELS).outcome == "silenced"
    silence_expire(silence=silence)
    result = ingest(service, labels=LABELS)
    assert result.outcome == "opened"
    assert Alert.objects.get().hold == AlertHold.NONE


def test_a_new_silence_mutes_alerts_already_waiting(make_service, ingest):
    service = make_service()
    ServiceIncidentSettings.objects.create(service=service, min_repeat_count=5)
    ingest(service, labels=LABELS)
    silence_create(matchers=[{"label": "alertname", "op": "=", "value": "DiskFull"}], starts_at=None,
                   ends_at=timezone.now() + timedelta(hours=1), comment="known")
    assert Alert.objects.get().hold == AlertHold.SILENCED
