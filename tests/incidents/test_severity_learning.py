"""Operator overrides are kept as training data; the classifier trains on history and proposes levels."""
from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from core.choices import Tier
from core.exceptions import InvalidInput
from incidents.choices import SeveritySource
from incidents.models import Incident, SeverityClassifier, SeverityOverride
from incidents.services.classifier import classifier_cache_clear, severity_classifier_train
from incidents.services.severity import incident_override_severity

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fresh_classifier_cache():
    classifier_cache_clear()
    yield
    classifier_cache_clear()


def test_an_operator_override_sets_the_level_and_is_kept_as_training_data(make_service, make_user, ingest):
    operator = make_user("operator")
    result = ingest(make_service(tier=Tier.TIER_4), labels={"alertname": "Disk"})
    incident = incident_override_severity(incident=result.incident_id, level=2, reason="customers are affected",
                                          user=operator)
    assert incident.severity == 2 and incident.severity_source == SeveritySource.OVERRIDE
    assert incident.severity_reasons[0] == f"Set by {operator.username}: customers are affected"
    override = SeverityOverride.objects.get()
    assert (override.old_severity, override.new_severity, override.rules_severity) == (4, 2, 4)
    assert override.features["services"] and override.user == operator
    event = incident.timeline.get(kind="severity_changed")
    assert event.actor == operator and "customers are affected" in event.message


def test_a_person_may_downgrade(make_service, make_user, ingest):
    result = ingest(make_service(tier=Tier.TIER_1), labels={"alertname": "E"}, severity_hint="critical")
    incident = incident_override_severity(incident=result.incident_id, level=4, reason="test traffic",
                                          user=make_user("operator"))
    assert incident.severity == 4


@pytest.mark.parametrize(("level", "reason", "field"), [(2, "", "reason"), (7, "x", "severity"), (4, "x", "severity")])
def test_an_override_needs_a_reason_and_a_different_valid_level(make_service, make_user, ingest, level, reason, field):
    result = ingest(make_service(tier=Tier.TIER_4), labels={"alertname": "Disk"})
    with pytest.raises(InvalidInput) as info:
        incident_override_severity(incident=result.incident_id, level=level, reason=reason, user=make_user())
    assert info.value.field == field
    assert not SeverityOverride.objects.exists()


def test_training_refuses_without_enough_history(make_service, make_history):
    make_history(make_service(), 10)
    with pytest.raises(CommandError, match="at least 50"):
        call_command("train_severity")


def test_the_classifier_learns_from_history_and_proposes_a_level_with_confidence(
    make_service, make_history, ingest, settings
):
    settings.SEVERITY_CLASSIFIER_ENABLED = True
    make_history(make_service(), 200)
    result = severity_classifier_train()
    assert result.samples == 200 and result.accuracy > 0.9
    assert SeverityClassifier.objects.get(enabled=True).pk == result.classifier_id
    opened = ingest(make_service(tier=Tier.TIER_4), labels={"alertname": "Revenue"}, kpis=["a", "b", "c"])
    incident = Incident.objects.get(pk=opened.incident_id)
    assert incident.proposed_severity == 1 and 0.5 < incident.proposed_confidence <= 1
    assert incident.timeline.filter(kind="severity_proposed").exists()


def test_the_classifier_can_be_switched_off(make_service, make_history, ingest, settings):
    make_history(make_service(), 80)
    severity_classifier_train()
    settings.SEVERITY_CLASSIFIER_ENABLED = False
    opened = ingest(make_service(), labels={"alertname": "X"})
    assert Incident.objects.get(pk=opened.incident_id).proposed_severity is None
