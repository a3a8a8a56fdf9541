"""Severity Level 1-4 from blast radius, business impact, hints and duration, with the reasons kept."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.choices import Tier
from core.services import service_set_dependencies
from incidents.choices import SeveritySource
from incidents.models import Incident
from incidents.services.severity import SeverityFeatures, severity_assess
from incidents.tasks import reassess_open_incidents

F = SeverityFeatures


@pytest.mark.parametrize(
    ("features", "level", "reason"),
    [
        pytest.param(F(services={"batch": 4}), 4, "blast radius: one tier-4 service", id="one_minor_service"),
        pytest.param(F(services={"web": 2}), 3, "most critical tier 2", id="tier_2_service"),
        pytest.param(F(services={"a": 3, "b": 4}), 3, "2 service(s)", id="two_minor_services"),
        pytest.param(F(services={"api": 1}), 2, "tier-1 service api affected", id="tier_1_service"),
        pytest.param(F(services={"a": 3, "b": 3, "c": 4}), 2, "3 services affected", id="three_services"),
        pytest.param(F(services={"api": 1, "db": 1, "web": 2}), 1, "3 services affected including tier-1",
                     id="wide_blast_radius_with_tier_1"),
        pytest.param(F(services={"batch": 4}, kpis=("bookings",)), 2, "business impact: KPI bookings",
                     id="one_kpi"),
        pytest.param(F(services={"batch": 4}, kpis=("a", "b", "c")), 1, "business impact: 3 KPIs",
                     id="major_business_impact"),
        pytest.param(F(services={"api": 1}, hint="critical"), 1, "critical on a tier-1", id="critical_hint_tier_1"),
        pytest.param(F(services={"batch": 4}, hint="critical"), 2, "critical on a tier-4", id="critical_hint_minor"),
        pytest.param(F(services={"web": 2}, hint="high"), 2, "high on a tier-2", id="high_hint_important"),
        pytest.param(F(services={"batch": 4}, hint="high"), 3, "high on a tier-4", id="high_hint_minor"),
        pytest.param(F(services={"batch": 4}, hint="warning"), 3, "signal severity warning", id="warning_hint"),
        pytest.param(F(services={"batch": 4}, hint="info"), 4, "signal severity info", id="info_hint"),
        pytest.param(F(services={"batch": 4}, duration_minutes=90), 3, "duration: firing for 90 minutes",
                     id="long_duration_raises_one_level"),
        pytest.param(F(services={"api": 1}, duration_minutes=600), 2, "tier-1", id="duration_never_reaches_level_1"),
    ],
)
def test_each_rule_sets_the_level_and_says_why(features, level, reason):
    result = severity_assess(features=features)
    assert result.level == level
    assert result.reasons[0].startswith(f"Level {level}")
    assert any(reason in r for r in result.reasons), result.reasons


def test_all_reasons_are_kept_worst_first():
    result = severity_assess(features=F(services={"api": 1}, kpis=("revenue",), hint="warning"))
    assert [r.split(" ")[1] for r in result.reasons] == ["2", "2", "3"]


@pytest.mark.django_db
def test_an_incident_stores_its_level_and_reasons(make_service, ingest):
    api = make_service("api", tier=Tier.TIER_1)
    result = ingest(api, labels={"alertname": "Errors"}, kpis=["bookings"])
    incident = Incident.objects.get(pk=result.incident_id)
    assert incident.severity == 2 and incident.rules_severity == 2
    assert any("business impact: KPI bookings" in r for r in incident.severity_reasons)
    assert incident.severity_features["services"] == {"api": 1}


@pytest.mark.django_db
def test_severity_upgrades_when_new_alerts_widen_the_blast_radius(make_service, ingest):
    db = make_service("db", tier=Tier.TIER_1)
    api = make_service("api", tier=Tier.TIER_1)
    web = make_service("web", tier=Tier.TIER_2)
    service_set_dependencies(service=api, depends_on=[db])
    service_set_dependencies(service=web, depends_on=[api])
    first = ingest(db, labels={"alertname": "Slow"})
    assert Incident.objects.get().severity == 2
    ingest(api, labels={"alertname": "Errors"})
    ingest(web, labels={"alertname": "Errors"})
    incident = Incident.objects.get(pk=first.incident_id)
    assert incident.severity == 1
    assert incident.severity_reasons[0].startswith("Level 1 Critical: blast radius: 3 services")
    change = incident.timeline.get(kind="severity_changed")
    assert change.data == {"old": 2, "new": 1, "reasons": incident.severity_reasons, "why": change.data["why"]}


@pytest.mark.django_db
def test_severity_never_downgrades_by_itself(make_service, ingest):
    service = make_service(tier=Tier.TIER_4)
    first = ingest(service, labels={"alertname": "A"}, severity_hint="critical")
    ingest(service, labels={"alertname": "B"}, severity_hint="info")
    incident = Incident.objects.get(pk=first.incident_id)
    assert incident.severity == 2 and incident.severity_source == SeveritySource.RULES


@pytest.mark.django_db
def test_a_long_running_incident_climbs_a_level_on_the_periodic_sweep(make_service, ingest):
    result = ingest(make_service(tier=Tier.TIER_4), labels={"alertname": "Slow"},
                    at=timezone.now() - timedelta(minutes=90))
    assert Incident.objects.get(pk=result.incident_id).severity == 4
    assert reassess_open_incidents() == 1
    incident = Incident.objects.get(pk=result.incident_id)
    assert incident.severity == 3 and any("duration: firing for" in r for r in incident.severity_reasons)
