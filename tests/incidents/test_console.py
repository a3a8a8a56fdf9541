"""The ops console's queue and actions: order, SLA clocks, filters and search, live changes, bulk actions,
merge (repeats follow), storm mode with undo, and every action refused to a manager."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from core.choices import Role, Tier
from incidents.choices import IncidentStatus
from incidents.models import Alert, BulkOperation, Incident, TimelineEvent
from incidents.models.console import UNDO_WINDOW
from incidents.sla import SlaState, parse_targets, sla_clocks

pytestmark = pytest.mark.django_db


@pytest.fixture
def page_as(make_user):
    def make(*roles: str, username: str | None = None) -> Client:
        client = Client()
        client.force_login(make_user(*roles, username=username))
        return client

    return make


@pytest.fixture
def operator(page_as):
    return page_as(Role.OPERATOR, username="olga")


def queue_ids(response) -> list[int]:
    return [row.pk for row in response.context["rows"]]


def test_the_queue_lists_the_worst_level_first_then_the_oldest(operator, make_incident):
    now = timezone.now()
    old_low = make_incident(severity=3, opened_at=now - timedelta(hours=2))
    new_critical = make_incident(severity=1, opened_at=now - timedelta(minutes=1))
    older_critical = make_incident(severity=1, opened_at=now - timedelta(minutes=30))
    response = operator.get(reverse("incidents:index"))
    assert queue_ids(response) == [older_critical.pk, new_critical.pk, old_low.pk]


def test_sla_clocks_turn_at_risk_then_breached_and_stop_when_met(make_incident, settings):
    settings.INCIDENTS_SLA = "1:10/100"
    now = timezone.now()
    incident = make_incident(severity=1, opened_at=now - timedelta(minutes=8))
    ack, resolve = sla_clocks(incident, now=now)
    assert (ack.kind, ack.state) == ("ack", SlaState.AT_RISK)  # 2 of 10 minutes left
    assert resolve.state == SlaState.ON_TRACK
    assert sla_clocks(incident, now=now + timedelta(minutes=5))[0].state == SlaState.BREACHED
    incident.acknowledged_at = now
    assert sla_clocks(incident, now=now + timedelta(hours=1))[0].state == SlaState.MET
    assert sla_clocks(make_incident(severity=3), now=now) == []  # no target configured for Level 3


def test_a_malformed_sla_setting_fails_loudly():
    from django.core.exceptions import ImproperlyConfigured

    assert parse_targets("4:-/60")[4].acknowledge is None
    with pytest.raises(ImproperlyConfigured, match="1:ten"):
        parse_targets("1:ten/60")


def test_the_queue_row_shows_its_clocks(operator, make_incident):
    make_incident(severity=1, opened_at=timezone.now() - timedelta(minutes=20))
    html = operator.get(reverse("incidents:index")).content.decode()
    assert 'class="sla sla-breached"' in html  # Level 1: 5 minutes to acknowledge, 20 have passed


def test_search_finds_text_in_alert_labels_and_titles(operator, make_incident, make_alert):
    by_label = make_incident(title="Checkout slow", labels={"pod": "payments-7f9c"})
    by_alert = make_incident(title="Disk")
    make_alert(incident=by_alert, title="volume sdb nearly full")
    make_incident(title="Unrelated")
    assert queue_ids(operator.get(reverse("incidents:index"), {"q": "payments-7f"})) == [by_label.pk]
    assert queue_ids(operator.get(reverse("incidents:index"), {"q": "SDB NEARLY"})) == [by_alert.pk]
    assert queue_ids(operator.get(reverse("incidents:index"), {"label": "pod=payments-7f9c"})) == [by_label.pk]


def test_mine_and_unassigned_views(page_as, make_user, make_incident):
    client = page_as(Role.OPERATOR, username="me")
    from django.contrib.auth import get_user_model

    me = get_user_model().objects.get(username="me")
    mine = make_incident(assignee=me)
    nobody = make_incident()
    assert queue_ids(client.get(reverse("incidents:index"), {"mine": "1"})) == [mine.pk]
    assert queue_ids(client.get(reverse("incidents:index"), {"unassigned": "1"})) == [nobody.pk]


def test_the_queue_page_costs_the_same_queries_for_5_or_40_incidents(operator, make_incident, make_user):
    def count() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert operator.get(reverse("incidents:index")).status_code == 200
        return len(ctx.captured_queries)

    assignee = make_user(Role.OPERATOR)
    for _ in range(5):
        make_incident(assignee=assignee)
    few = count()
    for _ in range(35):
        make_incident(assignee=make_user(Role.OPERATOR))
    assert count() == few
    assert few <= 20


def test_changes_name_the_incidents_changed_since_the_cursor(operator, make_incident, ingest, make_service):
    client = operator
    url = reverse("incident-queue-changes")
    quiet = make_incident()
    start = client.get(url).json()
    assert start["changes"] == []
    acked = make_incident()
    from incidents.services import incident_acknowledge

    incident_acknowledge(incident=acked)
    opened = ingest(make_service(), "Payments down", severity_hint="critical")
    answer = client.get(url, {"since": start["cursor"]}).json()
    changed = {c["id"]: c for c in answer["changes"]}
    assert set(changed) == {acked.pk, opened.incident_id}
    assert quiet.pk not in changed
    assert changed[opened.incident_id]["opened"] is True and changed[acked.pk]["opened"] is False
    assert changed[acked.pk]["status"] == "acknowledged"
    assert client.get(url, {"since": answer["cursor"]}).json()["changes"] == []
    assert client.get(url, {"since": "abc"}).status_code == 400


def test_the_rows_fragment_keeps_the_filter(operator, make_incident):
    make_incident(severity=1, title="keep me")
    make_incident(severity=4, title="filtered out")
    html = operator.get(reverse("incidents:index"), {"severity": "1", "partial": "rows"}).content.decode()
    assert html.lstrip().startswith("<tbody") and "keep me" in html and "filtered out" not in html


def test_bulk_acknowledge_acts_on_each_and_names_what_it_skipped(operator, make_incident):
    a, b = make_incident(), make_incident()
    done = make_incident(status=IncidentStatus.RESOLVED, resolved_at=timezone.now())
    response = operator.post(reverse("incidents:bulk"), {"action": "acknowledge", "ids": [a.pk, b.pk, done.pk]},
                             HTTP_ACCEPT="application/json")
    body = response.json()
    assert sorted(body["touched"]) == [a.pk, b.pk]
    assert "cannot become acknowledged" in body["skipped"][str(done.pk)]
    assert Incident.objects.get(pk=a.pk).status == IncidentStatus.ACKNOWLEDGED
    assert TimelineEvent.objects.filter(incident=a, kind="acknowledged").exists()
    assert BulkOperation.objects.get(pk=body["operation"]).user.username == "olga"


def test_bulk_level_change_needs_a_reason(operator, make_incident):
    incident = make_incident(severity=3)
    response = operator.post(reverse("incidents:bulk"), {"action": "severity", "ids": [incident.pk], "severity": "1"},
                             HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and response.json()["field"] == "reason"
    operator.post(reverse("incidents:bulk"), {"action": "severity", "ids": [incident.pk], "severity": "1",
                                              "reason": "customers affected"})
    assert Incident.objects.get(pk=incident.pk).severity == 1


def test_bulk_assign_and_bad_ids_are_named(operator, make_incident, make_user):
    incident = make_incident()
    make_user(Role.OPERATOR, username="sam")
    operator.post(reverse("incidents:bulk"), {"action": "assign", "ids": [incident.pk], "assignee": "sam"})
    assert Incident.objects.get(pk=incident.pk).assignee.username == "sam"
    response = operator.post(reverse("incidents:bulk"), {"action": "acknowledge", "ids": ["x1"]},
                             HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and response.json()["field"] == "ids"


def test_merge_moves_alerts_resolves_the_others_and_their_repeats_follow(operator, ingest, make_service):
    api, db = make_service("api"), make_service("db")
    target = ingest(api, "API errors", fingerprint="fp-api")
    other = ingest(db, "DB slow", fingerprint="fp-db")
    assert target.incident_id != other.incident_id
    response = operator.post(reverse("incidents:bulk"), {"action": "merge", "target": target.incident_id,
                                                         "ids": [target.incident_id, other.incident_id]})
    assert response.status_code == 302
    merged = Incident.objects.get(pk=other.incident_id)
    assert merged.status == IncidentStatus.RESOLVED and merged.resolution == f"merged into #{target.incident_id}"
    assert Alert.objects.get(fingerprint="fp-db").incident_id == target.incident_id
    assert Incident.objects.get(pk=target.incident_id).alert_count == 2
    # The DB alert fires again: it joins the target, not its resolved incident (nor a new one).
    assert ingest(db, "DB slow", fingerprint="fp-db").incident_id == target.incident_id
    ingest(db, "DB slow", fingerprint="fp-db", status="resolved")
    assert ingest(db, "DB slow", fingerprint="fp-db").incident_id == target.incident_id
    assert TimelineEvent.objects.filter(incident_id=target.incident_id, message__contains="Merged").exists()


def test_merge_into_a_resolved_incident_is_refused(operator, make_incident):
    done = make_incident(status=IncidentStatus.RESOLVED, resolved_at=timezone.now())
    other = make_incident()
    response = operator.post(reverse("incidents:bulk"), {"action": "merge", "target": done.pk, "ids": [other.pk]},
                             HTTP_ACCEPT="application/json")
    assert response.status_code == 400 and response.json()["field"] == "target"
    assert Incident.objects.get(pk=other.pk).is_open


def test_storm_mode_acknowledges_the_filter_in_one_audit_entry_and_undo_puts_it_back(operator, make_incident,
                                                                                     make_service):
    noisy = make_service("noisy")
    storm = [make_incident(service=noisy) for _ in range(3)]
    elsewhere = make_incident()
    response = operator.post(reverse("incidents:storm"), {"query": "service=noisy"}, HTTP_ACCEPT="application/json")
    body = response.json()
    assert sorted(body["touched"]) == sorted(i.pk for i in storm) and body["undo_url"]
    assert BulkOperation.objects.count() == 1
    assert Incident.objects.get(pk=elsewhere.pk).status == IncidentStatus.TRIGGERED
    # Someone moves one on meanwhile: undo leaves that one alone.
    from incidents.services import incident_investigate

    incident_investigate(incident=storm[0].pk, user=None)
    undo = operator.post(body["undo_url"], HTTP_ACCEPT="application/json").json()
    assert sorted(undo["reverted"]) == sorted(i.pk for i in storm[1:])
    assert Incident.objects.get(pk=storm[1].pk).status == IncidentStatus.TRIGGERED
    assert Incident.objects.get(pk=storm[1].pk).acknowledged_at is None
    assert Incident.objects.get(pk=storm[0].pk).status == IncidentStatus.INVESTIGATING
    assert TimelineEvent.objects.filter(incident=storm[1], message__contains="undone").exists()
    again = operator.post(body["undo_url"], HTTP_ACCEPT="application/json")
    assert again.status_code == 409


def test_undo_is_refused_after_the_window(operator, make_incident):
    make_incident()
    body = operator.post(reverse("incidents:storm"), {"query": ""}, HTTP_ACCEPT="application/json").json()
    BulkOperation.objects.filter(pk=body["operation"]).update(at=timezone.now() - UNDO_WINDOW - timedelta(seconds=1))
    response = operator.post(body["undo_url"], HTTP_ACCEPT="application/json")
    assert response.status_code == 409 and "Too late" in response.json()["detail"]


@pytest.mark.parametrize("name,args", [("bulk", []), ("storm", []), ("bulk_undo", [1]), ("act", [1, "acknowledge"])])
def test_a_managers_hand_made_post_is_refused(page_as, make_incident, name, args):
    incident = make_incident()
    manager = page_as(Role.MANAGER, Role.EXECUTIVE)
    url = reverse(f"incidents:{name}", args=[incident.pk if a == 1 else a for a in args])
    response = manager.post(url, {"action": "acknowledge", "ids": [incident.pk], "query": ""})
    assert response.status_code == 403
    assert Incident.objects.get(pk=incident.pk).status == IncidentStatus.TRIGGERED


def test_posts_without_a_csrf_token_are_refused(make_user, make_incident):
    incident = make_incident()
    client = Client(enforce_csrf_checks=True)
    client.force_login(make_user(Role.OPERATOR))
    response = client.post(reverse("incidents:bulk"), {"action": "acknowledge", "ids": [incident.pk]})
    assert response.status_code == 403


def test_a_manager_sees_no_action_controls_and_an_admin_sees_configuration(page_as, make_incident):
    incident = make_incident()
    manager = page_as(Role.MANAGER)
    for url in (reverse("incidents:index"), reverse("incidents:detail", args=[incident.pk])):
        html = manager.get(url).content.decode()
        assert "bulk-form" not in html and "act-acknowledge" not in html and "storm-ack" not in html
    admin = page_as(Role.ADMIN, Role.OPERATOR)
    html = admin.get(reverse("incidents:detail", args=[incident.pk])).content.decode()
    assert "act-acknowledge" in html and "Configure:" in html


def test_saved_views_are_kept_per_person(page_as):
    client = page_as(Role.MANAGER, username="mia")
    client.post(reverse("incidents:queue_view_save"), {"name": "Payments L1", "query": "service=payments&severity=1"})
    html = client.get(reverse("incidents:index")).content.decode()
    assert 'href="?service=payments&amp;severity=1"' in html and "Payments L1" in html
    assert "Payments L1" not in page_as(Role.MANAGER, username="max").get(reverse("incidents:index")).content.decode()


def test_merging_a_worse_incident_raises_the_targets_level(operator, ingest, make_service):
    low = ingest(make_service("batch", tier=Tier.TIER_4), "Export late", fingerprint="fp-low")
    critical = ingest(make_service("payments", tier=Tier.TIER_1), "Payments down", severity_hint="critical",
                      fingerprint="fp-crit")
    assert Incident.objects.get(pk=low.incident_id).severity == 4
    operator.post(reverse("incidents:bulk"), {"action": "merge", "target": low.incident_id,
                                              "ids": [critical.incident_id]})
    target = Incident.objects.get(pk=low.incident_id)
    assert target.severity == 1 and any("payments" in r for r in target.severity_reasons)
