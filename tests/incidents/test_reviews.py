"""Post-incident reviews: business-day due dates in the team's zone, the Level 1/2 close rule, draft -> in
review -> published, the generated timeline with stars and notes, the model section, Markdown, reminders."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.choices import Role
from incidents import events
from incidents.choices import ReviewStatus, TimelineKind
from incidents.models import Delivery, PostIncidentReview
from incidents.services import IllegalTransition, incident_close, incident_resolve
from incidents.services.review_export import review_markdown
from incidents.services.reviews import (
    business_days_add,
    review_ensure,
    review_mark_event,
    review_timeline,
    review_transition,
    review_update,
    reviews_remind,
)

pytestmark = pytest.mark.django_db
T0 = datetime(2026, 11, 2, 10, 0, tzinfo=UTC)


@pytest.mark.parametrize(("start", "days", "due"), [
    (date(2026, 12, 4), 5, date(2026, 12, 11)),  # Friday + 5 business days = next Friday
    (date(2026, 12, 3), 2, date(2026, 12, 7)),  # Thursday + 2 skips the weekend: Monday
    (date(2026, 12, 5), 1, date(2026, 12, 7)),  # resolved on a Saturday: Monday is the first business day
    (date(2026, 12, 7), 5, date(2026, 12, 14)),
], ids=["friday_plus_5", "thursday_plus_2_over_weekend", "saturday_plus_1", "monday_plus_5"])
def test_business_days_skip_weekends(start, days, due):
    assert business_days_add(start=start, days=days) == due


def test_the_due_date_counts_from_the_resolution_day_in_the_team_time_zone(make_team, make_service, make_incident,
                                                                             make_user):
    tokyo = make_team("Tokyo ops", time_zone="Asia/Tokyo")
    utc = make_team("UTC ops")
    # Thursday 23:30 UTC is already Friday in Tokyo.
    resolved = datetime(2026, 12, 3, 23, 30, tzinfo=UTC)
    due = {}
    for team in (tokyo, utc):
        incident = make_incident(severity=1, service=make_service(team=team), opened_at=resolved - timedelta(hours=1))
        incident_resolve(incident=incident, user=make_user(Role.OPERATOR), now=resolved)
        due[team.name] = PostIncidentReview.objects.get(incident=incident).due_date
    assert due == {"Tokyo ops": date(2026, 12, 11), "UTC ops": date(2026, 12, 10)}


@pytest.mark.parametrize("level", [1, 2])
def test_a_level_1_or_2_incident_resolves_but_closes_only_with_a_published_review(make_incident, make_user, level):
    user = make_user(Role.OPERATOR)
    incident = make_incident(severity=level, opened_at=T0)
    incident_resolve(incident=incident, user=user, now=T0 + timedelta(hours=1))
    review = PostIncidentReview.objects.get(incident=incident)  # started at resolution, due in business days
    assert review.status == ReviewStatus.DRAFT and review.due_date == date(2026, 11, 9)
    with pytest.raises(IllegalTransition) as info:
        incident_close(incident=incident, user=user)
    assert info.value.field == "review" and f"Level {level}" in info.value.message
    review_update(review=review, user=user, summary="s", contributing_factors=[{"category": "process", "text": ""}])
    review_transition(review=review, to=ReviewStatus.IN_REVIEW, user=user)
    with pytest.raises(IllegalTransition):
        incident_close(incident=incident, user=user)  # in review is not published
    review_transition(review=review, to=ReviewStatus.PUBLISHED, user=user)
    assert incident_close(incident=incident, user=user).status == "closed"


def test_a_level_3_incident_closes_without_a_review(make_incident, make_user):
    user = make_user(Role.OPERATOR)
    incident = make_incident(severity=3)
    incident_resolve(incident=incident, user=user)
    assert incident_close(incident=incident, user=user).status == "closed"
    assert not PostIncidentReview.objects.filter(incident=incident).exists()


def test_the_api_close_of_an_unreviewed_level_1_is_a_409_naming_the_review(make_incident, operator_client, make_user):
    incident = make_incident(severity=1)
    incident_resolve(incident=incident, user=make_user(Role.OPERATOR))
    response = operator_client.post(f"/api/v1/incidents/{incident.pk}/close/")
    assert response.status_code == 409 and response.data["field"] == "review"


def test_publishing_needs_a_contributing_factor_and_stores_who_and_when(make_incident, operator_client):
    incident = make_incident(severity=3)
    url = f"/api/v1/incidents/{incident.pk}/review/"
    assert operator_client.post(url).status_code == 201
    operator_client.patch(url, {"summary": "Disk filled up"}, format="json")
    assert operator_client.post(f"{url}transition/", {"status": "in_review"}, format="json").status_code == 200
    response = operator_client.post(f"{url}transition/", {"status": "published"}, format="json")
    assert response.status_code == 400 and response.data["field"] == "contributing_factors"
    assert PostIncidentReview.objects.get(incident=incident).status == ReviewStatus.IN_REVIEW
    operator_client.patch(url, {"contributing_factors": [{"category": "capacity", "text": "no disk alert"}]},
                          format="json")
    data = operator_client.post(f"{url}transition/", {"status": "published"}, format="json").data
    assert data["status"] == "published" and data["published_at"] and data["published_by"]
    assert data["contributing_factors"] == [{"category": "capacity", "text": "no disk alert"}]
    assert operator_client.patch(url, {"summary": "changed"}, format="json").status_code == 409


@pytest.mark.parametrize(("body", "field"), [
    ({"contributing_factors": [{"category": "aliens", "text": ""}]}, "contributing_factors"),
    ({"contributing_factors": "capacity"}, "contributing_factors"),
    ({"users_affected": -3}, "users_affected"),
    ({"impact_services": ["no-such-service"]}, "impact_services"),
    ({"impact_start": "2026-11-02T10:00:00Z", "impact_end": "2026-11-02T09:00:00Z"}, "impact_end"),
], ids=["unknown_factor", "factors_not_a_list", "negative_users", "unknown_service", "end_before_start"])
def test_bad_review_input_is_a_400_naming_the_field_and_nothing_changes(make_incident, operator_client, body, field):
    incident = make_incident(severity=3)
    url = f"/api/v1/incidents/{incident.pk}/review/"
    operator_client.post(url)
    response = operator_client.patch(url, {**body, "summary": "should not be stored"}, format="json")
    assert response.status_code == 400 and field in str(response.data)
    review = PostIncidentReview.objects.get(incident=incident)
    assert review.summary == "" and review.contributing_factors == [] and review.users_affected is None


def test_the_generated_timeline_has_every_event_with_stars_and_notes_and_starred_first_once_published(
        make_incident, make_user):
    user = make_user(Role.OPERATOR, username="olivia")
    incident = make_incident(severity=3, opened_at=T0)
    first = events.event_record(incident=incident, kind=TimelineKind.ALERT_JOINED, message="alert joined",
                                at=T0 + timedelta(minutes=1))
    events.event_record(incident=incident, kind=TimelineKind.NOTE, actor=user, message="looking", at=T0 + timedelta(
        minutes=2))
    step = events.playbook_step_done(incident=incident, step="Restart the pool", outcome="done")
    incident_resolve(incident=incident, user=user)
    review = review_ensure(incident=incident, user=user)
    kinds = [e.kind for e in review_timeline(review=review)]
    assert kinds[:2] == ["alert_joined", "note"] and "playbook_step" in kinds and kinds[-1] == "resolved"
    review_mark_event(review=review, event_id=step.pk, user=user, starred=True, annotation="this fixed it")
    marked = {e.event_id: e for e in review_timeline(review=review)}
    assert marked[step.pk].starred and marked[step.pk].annotation == "this fixed it"
    assert not marked[first.pk].starred
    review_update(review=review, user=user, summary="pool exhausted",
                  contributing_factors=[{"category": "configuration", "text": "pool size 5"}])
    review_transition(review=review, to=ReviewStatus.IN_REVIEW, user=user)
    review_transition(review=review, to=ReviewStatus.PUBLISHED, user=user)
    assert review_timeline(review=review, starred_first=True)[0].event_id == step.pk
    markdown = review_markdown(review=review)
    assert "**Configuration**: pool size 5" in markdown
    timeline_part = markdown.split("## Timeline")[1]
    assert timeline_part.strip().splitlines()[0].startswith("- ★") and "this fixed it" in timeline_part


def test_a_mark_on_another_incidents_event_is_refused(make_incident, operator_client):
    incident, other = make_incident(severity=3), make_incident(severity=3)
    foreign = events.note_added(incident=other, actor=None, text="elsewhere")
    operator_client.post(f"/api/v1/incidents/{incident.pk}/review/")
    response = operator_client.post(f"/api/v1/incidents/{incident.pk}/review/timeline/{foreign.pk}/",
                                    {"starred": True}, format="json")
    assert response.status_code == 400 and response.data["field"] == "event"


def test_a_model_incident_gets_its_model_section_from_the_signals_and_playbook(make_incident, make_alert):
    incident = make_incident(severity=2, with_alert=False)
    make_alert(incident=incident, source_kind="model", fingerprint="model-monitor:eta:data_drift",
               labels={"model": "eta", "version": "3", "monitor": "data_drift"},
               payload={"model": "eta", "version": 3, "monitor": "data_drift", "status": "breach",
                        "metrics": {"psi_max": 0.31}, "period_start": "2026-11-01T00:00:00+00:00",
                        "period_end": "2026-11-02T00:00:00+00:00"})
    events.playbook_step_done(incident=incident, step="Retrain the model",
                              outcome="succeeded: training run 7 queued for eta")
    events.playbook_step_done(incident=incident, step="Page the team", outcome="done")
    section = review_ensure(incident=incident).model_section
    assert section["models"] == ["eta"]
    assert section["monitors"][0]["metrics"] == {"psi_max": 0.31} and section["drift"][0]["monitor"] == "data_drift"
    assert [a["message"] for a in section["actions"]] == [
        "Playbook step “Retrain the model”: succeeded: training run 7 queued for eta"]


def test_an_ordinary_incident_has_no_model_section(make_incident):
    assert review_ensure(incident=make_incident(severity=3)).model_section == {}


def test_owners_are_reminded_before_on_and_after_the_due_date_once_each(make_incident, make_user):
    owner = make_user(Role.OPERATOR)
    incident = make_incident(severity=2, assignee=owner, opened_at=T0)
    incident_resolve(incident=incident, user=owner, now=T0 + timedelta(hours=1))  # Mon 2 Nov: due Mon 9 Nov
    review = PostIncidentReview.objects.get(incident=incident)
    assert review.owner == owner and review.due_date == date(2026, 11, 9)

    def remind(day: date) -> int:
        return reviews_remind(now=datetime(day.year, day.month, day.day, 9, tzinfo=UTC))

    assert remind(date(2026, 11, 5)) == 0  # Thursday: nothing yet
    assert remind(date(2026, 11, 6)) == 2  # Friday is the business day before: e-mail + in-app
    assert remind(date(2026, 11, 6)) == 0  # the sweep runs again: nothing twice
    assert remind(date(2026, 11, 9)) == 2  # on the day
    assert remind(date(2026, 11, 10)) == 2 and remind(date(2026, 11, 11)) == 2  # overdue: daily
    assert Delivery.objects.filter(kind="reminder", recipient=owner).count() == 8
    review_update(review=review, user=owner, summary="s", contributing_factors=[{"category": "process", "text": ""}])
    review_transition(review=review, to=ReviewStatus.IN_REVIEW, user=owner)
    review_transition(review=review, to=ReviewStatus.PUBLISHED, user=owner)
    assert remind(date(2026, 11, 12)) == 0  # published: no more reminders


def test_the_review_page_edits_stars_and_publishes(make_incident, make_user, client):
    user = make_user(Role.OPERATOR)
    client.force_login(user)
    incident = make_incident(severity=3)
    event = events.note_added(incident=incident, actor=user, text="found it")
    assert client.post(f"/incidents/{incident.pk}/review/start/").status_code == 302
    response = client.post(f"/incidents/{incident.pk}/review/save/", {
        "summary": "pool", "factor_configuration": "1", "factor_configuration_text": "pool size",
        "users_affected": "12"})
    assert response.status_code == 302
    client.post(f"/incidents/{incident.pk}/review/events/{event.pk}/", {"starred": "1", "annotation": "key"})
    client.post(f"/incidents/{incident.pk}/review/status/", {"status": "in_review"})
    client.post(f"/incidents/{incident.pk}/review/status/", {"status": "published"})
    review = PostIncidentReview.objects.get(incident=incident)
    assert review.status == "published" and review.users_affected == 12
    page = client.get(f"/incidents/{incident.pk}/review/").content.decode()
    assert "★" in page and "pool size" in page
    assert client.get(f"/incidents/{incident.pk}/review.md").content.decode().startswith("# Post-incident review")


def test_a_bad_review_form_shows_the_field_and_a_manager_cannot_edit(make_incident, make_user, client):
    incident = make_incident(severity=3)
    client.force_login(make_user(Role.OPERATOR))
    client.post(f"/incidents/{incident.pk}/review/start/")
    response = client.post(f"/incidents/{incident.pk}/review/save/", {"users_affected": "many"})
    assert response.status_code == 400 and "users_affected" in response.content.decode()
    client.force_login(make_user(Role.MANAGER))
    assert client.get(f"/incidents/{incident.pk}/review/").status_code == 200
    assert client.post(f"/incidents/{incident.pk}/review/save/", {"summary": "x"}).status_code == 403
    assert client.get("/incidents/overdue/").status_code == 200


def test_the_incident_page_shows_the_review_and_cost_panels(make_incident, make_user, client):
    user = make_user(Role.OPERATOR)
    incident = make_incident(severity=1)
    incident_resolve(incident=incident, user=user)
    client.force_login(user)
    page = client.get(f"/incidents/{incident.pk}/").content.decode()
    assert "Post-incident review" in page and "Needed before this incident can be closed" not in page
    assert "Draft" in page and f"/incidents/{incident.pk}/review/" in page
    assert "Cost so far (EUR)" in page
