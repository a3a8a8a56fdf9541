"""Incident cost: hand-computed cases (a service joining mid-incident, responders by role, review time, manual
lines), recomputed while open, frozen at close; bad cost lines are refused naming the field."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_UP, Decimal

import pytest

from core.choices import Role
from incidents import events
from incidents.choices import ReviewStatus, TimelineKind
from incidents.models import CostLine, IncidentCost
from incidents.panels import incident_panels_data
from incidents.services import incident_acknowledge, incident_assign, incident_close, incident_resolve
from incidents.services.costs import CostFrozen, cost_line_add, incident_cost_compute, incident_cost_refresh
from incidents.services.reviews import review_ensure, review_transition, review_update

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)
RATE = Decimal(50_000) / Decimal(2_080)


def cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


@pytest.fixture
def scene(make_service, make_incident, make_alert, make_user):
    """L2 on `checkout` (10/min) from T0; `payments` (2/min) joins at T0+30; the IC acknowledges at T0+5,
    another responder writes a note at T0+20; resolved at T0+60."""
    checkout = make_service("checkout", downtime_cost_per_minute=Decimal("10"))
    payments = make_service("payments", downtime_cost_per_minute=Decimal("2"))
    incident = make_incident(severity=2, service=checkout, opened_at=T0)
    make_alert(incident=incident, service=payments, seen_at=T0 + timedelta(minutes=30))
    ic, helper = make_user(Role.OPERATOR, username="ic"), make_user(Role.OPERATOR, username="helper")
    incident_acknowledge(incident=incident, user=ic, now=T0 + timedelta(minutes=5))
    incident_assign(incident=incident, user=ic, assignee=ic)
    events.event_record(incident=incident, kind=TimelineKind.NOTE, actor=helper, message="checking payments",
                        at=T0 + timedelta(minutes=20))
    incident_resolve(incident=incident, user=ic, now=T0 + timedelta(minutes=60))
    incident.refresh_from_db()
    return incident, ic, helper


def test_it_costs_downtime_from_when_each_service_joined_and_responders_by_role(scene):
    incident, _, _ = scene
    cost = incident_cost_compute(incident=incident)
    assert {s.service: s.amount for s in cost.services} == {"checkout": Decimal("600.00"),
                                                            "payments": Decimal("60.00")}
    assert cost.downtime == Decimal("660.00")
    by_name = {r.username: r for r in cost.responders}
    assert by_name["ic"].role == "commander" and by_name["helper"].role == "responder"
    assert by_name["ic"].amount == cents(Decimal(55) / 60 * RATE)  # 55 min x rate x 1.0
    assert by_name["helper"].amount == cents(Decimal(40) / 60 * RATE * Decimal("0.5"))
    assert cost.response == cents(Decimal(55) / 60 * RATE) + cents(Decimal(40) / 60 * RATE / 2)
    assert cost.review == 0 and cost.total == cost.downtime + cost.response


def test_review_time_and_manual_lines_are_added_and_the_cost_freezes_at_close(scene, make_user):
    incident, ic, helper = scene
    review = review_ensure(incident=incident)
    review_update(review=review, user=ic, summary="disk full", participants=[ic, helper],
                  contributing_factors=[{"category": "capacity", "text": "no alert on disk"}])
    review_transition(review=review, to=ReviewStatus.IN_REVIEW, user=ic)
    review_transition(review=review, to=ReviewStatus.PUBLISHED, user=ic)
    cost_line_add(incident=incident, user=ic, amount="100.00", description="credits", category="credit")
    expected_review = cents((1 + Decimal("0.5") * 2) * RATE)  # 1 h preparation + 0.5 h x 2 participants
    expected = Decimal("660.00") + cents(Decimal(55) / 60 * RATE) + cents(Decimal(40) / 60 * RATE / 2) \
        + expected_review + Decimal("100.00")
    assert incident_cost_compute(incident=incident).total == expected

    incident_close(incident=incident, user=ic)
    frozen = IncidentCost.objects.get(incident=incident)
    assert frozen.frozen_at is not None and frozen.total == expected and frozen.review == expected_review
    with pytest.raises(CostFrozen):
        cost_line_add(incident=incident, user=ic, amount="5", description="late fee")
    incident.service.downtime_cost_per_minute = Decimal("1000")
    incident.service.save()
    assert incident_cost_refresh(incident=incident).total == expected  # the rate change does not move it
    assert CostLine.objects.filter(incident=incident).count() == 1


def test_the_cost_of_an_open_incident_grows_with_time(make_incident, make_service):
    incident = make_incident(service=make_service(downtime_cost_per_minute=Decimal("3")), opened_at=T0)
    early = incident_cost_refresh(incident=incident, now=T0 + timedelta(minutes=10))
    late = incident_cost_refresh(incident=incident, now=T0 + timedelta(minutes=25))
    assert (early.downtime, late.downtime) == (Decimal("30.00"), Decimal("75.00"))
    assert late.frozen_at is None


@pytest.mark.parametrize(("body", "field"), [
    ({"amount": "-5", "description": "refund"}, "amount"),
    ({"amount": "lots", "description": "refund"}, "amount"),
    ({"amount": "NaN", "description": "refund"}, "amount"),
    ({"amount": "12.345", "description": "refund"}, "amount"),
    ({"amount": "5", "description": "refund", "currency": "GBP"}, "currency"),
    ({"amount": "5", "description": ""}, "description"),
    ({"amount": "5", "description": "x", "category": "bribe"}, "category"),
], ids=["negative", "not_a_number", "nan", "sub_cent", "other_currency", "no_description", "unknown_category"])
def test_a_bad_cost_line_is_a_400_naming_the_field_and_nothing_is_stored(make_incident, operator_client, body,
                                                                           field):
    incident = make_incident()
    response = operator_client.post(f"/api/v1/incidents/{incident.pk}/cost/lines/", body, format="json")
    assert response.status_code == 400
    assert field in str(response.data)
    assert not CostLine.objects.exists()


def test_the_api_and_the_panel_show_the_cost_with_money_as_strings(scene, operator_client, manager_client):
    incident, _, _ = scene
    response = operator_client.post(f"/api/v1/incidents/{incident.pk}/cost/lines/",
                                    {"amount": 250, "description": "SLA credit", "category": "credit"}, format="json")
    assert response.status_code == 201
    data = manager_client.get(f"/api/v1/incidents/{incident.pk}/cost/").data
    assert data["downtime"] == "660.00" and data["manual"] == "250.00" and data["currency"] == "EUR"
    assert manager_client.post(f"/api/v1/incidents/{incident.pk}/cost/lines/",
                               {"amount": 1, "description": "x"}, format="json").status_code == 403
    panels = incident_panels_data(incident=incident, user=None)
    assert panels["cost"]["total"] == data["total"] and panels["cost"]["lines"][0]["amount"] == "250.00"
