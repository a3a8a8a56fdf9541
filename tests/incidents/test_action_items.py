"""Action items: owner and due date required, daily overdue reminders, and effectiveness both ways (held after a
quiet watch, recurred with the incident that repeated the fault)."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.choices import Role
from incidents.choices import ActionItemStatus, Effectiveness
from incidents.models import ActionItem, Delivery
from incidents.services.action_items import (
    action_item_create,
    action_item_update,
    action_items_remind,
    action_items_watch,
    fingerprint_family,
)
from incidents.services.reviews import review_ensure

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.fixture
def reviewed(make_incident, make_service, make_user):
    service = make_service("checkout")
    incident = make_incident(severity=2, service=service, opened_at=T0, labels={"alertname": "DiskFull"})
    owner = make_user(Role.OPERATOR, username="owner")
    return review_ensure(incident=incident), owner, service


def test_fingerprint_families_ignore_scope_and_variable_tails():
    assert fingerprint_family(fingerprint="i12:abc", labels={"alertname": "DiskFull"}) == "alertname:DiskFull"
    assert fingerprint_family(fingerprint="i12:checkout-latency:1699999999") == "checkout-latency"
    assert fingerprint_family(fingerprint="i3:db/conn-pool/9f8e7d6c5b4a") == "db/conn-pool"


@pytest.mark.parametrize(("body", "field"), [
    ({"title": "Add disk alert", "due_date": "2026-11-20"}, "owner"),
    ({"title": "Add disk alert", "owner": "OWNER"}, "due_date"),
    ({"title": "Add disk alert", "owner": "OWNER", "due_date": "next week"}, "due_date"),
    ({"title": "", "owner": "OWNER", "due_date": "2026-11-20"}, "title"),
    ({"title": "x", "owner": 999999, "due_date": "2026-11-20"}, "owner"),
    ({"title": "x", "owner": "OWNER", "due_date": "2026-11-20", "priority": "urgent"}, "priority"),
], ids=["no_owner", "no_due_date", "bad_due_date", "no_title", "unknown_owner", "unknown_priority"])
def test_an_action_item_without_owner_or_due_date_is_a_400_and_nothing_is_stored(reviewed, operator_client, body,
                                                                                   field):
    review, owner, _ = reviewed
    body = {k: (owner.pk if v == "OWNER" else v) for k, v in body.items()}
    response = operator_client.post(f"/api/v1/incidents/{review.incident_id}/review/action-items/", body,
                                    format="json")
    assert response.status_code == 400 and field in str(response.data)
    assert not ActionItem.objects.exists()


def test_an_action_item_is_created_and_done_starts_the_watch(reviewed, operator_client, settings):
    review, owner, service = reviewed
    settings.ACTION_ITEM_WATCH_DAYS = 14
    response = operator_client.post(f"/api/v1/incidents/{review.incident_id}/review/action-items/", {
        "title": "Alert on disk at 80%", "owner": owner.pk, "due_date": "2026-11-20", "priority": "high",
        "service": service.pk}, format="json")
    assert response.status_code == 201 and response.data["owner_name"] == "owner"
    done = operator_client.patch(f"/api/v1/action-items/{response.data['id']}/", {"status": "done"}, format="json")
    assert done.data["effectiveness"] == "watching" and done.data["completed_at"]
    item = ActionItem.objects.get()
    assert item.watch_until - item.completed_at == timedelta(days=14)


def test_overdue_items_remind_their_owner_once_a_day(reviewed):
    review, owner, _ = reviewed
    item = action_item_create(review=review, user=owner, title="Runbook", owner=owner, due_date=date(2026, 11, 10))

    def remind(day: int) -> int:
        return action_items_remind(now=datetime(2026, 11, day, 8, tzinfo=UTC))

    assert remind(10) == 0  # due today: not overdue yet
    assert remind(11) == 2 and remind(11) == 0  # e-mail + in-app, once that day
    assert remind(12) == 2
    action_item_update(item=item, user=owner, status=ActionItemStatus.DONE)
    assert remind(13) == 0
    assert Delivery.objects.filter(kind="reminder", recipient=owner).count() == 4


def test_a_done_item_is_held_when_nothing_recurs_during_the_watch(reviewed, make_incident, make_service):
    review, owner, service = reviewed
    item = action_item_create(review=review, user=owner, title="Disk alert", owner=owner, due_date=date(2026, 11, 9),
                              service=service)
    item = action_item_update(item=item, user=owner, status=ActionItemStatus.DONE, now=T0 + timedelta(days=1))
    # Same alert name on another service, and another fault on this service: neither is a recurrence.
    make_incident(service=make_service(), opened_at=T0 + timedelta(days=3), labels={"alertname": "DiskFull"})
    make_incident(service=service, opened_at=T0 + timedelta(days=4), labels={"alertname": "HighLatency"})
    assert action_items_watch(now=T0 + timedelta(days=10)) == 0  # still watching
    assert ActionItem.objects.get().effectiveness == Effectiveness.WATCHING
    assert action_items_watch(now=item.watch_until + timedelta(minutes=1)) == 1
    item.refresh_from_db()
    assert item.effectiveness == Effectiveness.HELD and item.recurrence is None


def test_a_done_item_recurred_when_the_same_fault_comes_back(reviewed, make_incident):
    review, owner, service = reviewed
    item = action_item_create(review=review, user=owner, title="Disk alert", owner=owner, due_date=date(2026, 11, 9))
    action_item_update(item=item, user=owner, status=ActionItemStatus.DONE, now=T0 + timedelta(days=1))
    again = make_incident(service=service, opened_at=T0 + timedelta(days=6), labels={"alertname": "DiskFull"})
    assert action_items_watch(now=T0 + timedelta(days=7)) == 1
    item.refresh_from_db()
    assert item.effectiveness == Effectiveness.RECURRED and item.recurrence == again


def test_a_done_item_recurred_when_a_later_review_names_its_factor(reviewed, make_incident, make_service):
    review, owner, _ = reviewed
    item = action_item_create(review=review, user=owner, title="Change review", owner=owner,
                              due_date=date(2026, 11, 9), contributing_factor="configuration")
    action_item_update(item=item, user=owner, status=ActionItemStatus.DONE, now=T0 + timedelta(days=1))
    other = make_incident(service=make_service(), opened_at=T0 + timedelta(days=5))
    later = review_ensure(incident=other)
    later.contributing_factors = [{"category": "configuration", "text": "flag flipped"}]
    later.save()
    action_items_watch(now=T0 + timedelta(days=6))
    item.refresh_from_db()
    assert item.effectiveness == Effectiveness.RECURRED and item.recurrence == other


def test_reopening_a_done_item_stops_the_watch(reviewed):
    review, owner, _ = reviewed
    item = action_item_create(review=review, user=owner, title="x", owner=owner, due_date=date(2026, 11, 9),
                              status=ActionItemStatus.DONE)
    assert item.effectiveness == Effectiveness.WATCHING
    item = action_item_update(item=item, user=owner, status=ActionItemStatus.OPEN)
    assert item.effectiveness == Effectiveness.NOT_DONE and item.completed_at is None and item.watch_until is None


def test_the_overdue_list_for_managers(reviewed, manager_client):
    review, owner, _ = reviewed
    action_item_create(review=review, user=owner, title="late", owner=owner, due_date=date(2020, 1, 1))
    data = manager_client.get("/api/v1/action-items/?overdue=1").data
    assert [d["title"] for d in data] == ["late"]
    assert manager_client.get("/api/v1/reviews/?overdue=1").status_code == 200
