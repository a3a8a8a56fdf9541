"""In-app notifications: the person's list page, the unread count in the top bar, marking read."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents.models import UserNotification
from incidents.services import notifications

pytestmark = pytest.mark.django_db


@pytest.fixture
def paged_member(make_user, make_team, make_service, make_incident, django_capture_on_commit_callbacks):
    team = make_team()
    member = make_user(Role.OPERATOR)
    team.members.add(member)
    incident = make_incident(severity=3, service=make_service(team=team), title="Slow search")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.incident_notify(incident_id=incident.pk)
    return member, incident


def test_paged_person_sees_the_notification_in_their_list_with_a_link(paged_member, client):
    member, incident = paged_member
    client.force_login(member)

    page = client.get("/incidents/notifications/").content.decode()

    assert "Slow search" in page
    assert f"/incidents/{incident.pk}/" in page


def test_top_bar_shows_the_unread_count_until_marked_read(paged_member, client):
    member, _ = paged_member
    client.force_login(member)

    assert 'class="unread-count">1<' in client.get("/").content.decode()
    client.post("/incidents/notifications/read/")
    assert 'class="unread-count">' not in client.get("/").content.decode()
    assert UserNotification.objects.get(user=member).read_at is not None


def test_others_do_not_see_someone_elses_notifications(paged_member, make_user, client):
    client.force_login(make_user(Role.OPERATOR))

    assert "Slow search" not in client.get("/incidents/notifications/").content.decode()


def test_api_lists_my_notifications(paged_member, client_as):
    member, _ = paged_member

    body = client_as(user=member).get("/api/v1/notifications/").json()

    assert [n["title"] for n in body["results"]][0].startswith("[AIOps L3")


def test_incident_page_lists_who_was_notified_and_how(paged_member, client):
    member, incident = paged_member
    client.force_login(member)

    page = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert 'id="notifications"' in page
    assert page.count(f"<td>{member.get_username()}</td>") == 2  # e-mail and in-app


def test_a_person_chooses_their_channels_on_the_notifications_page(make_user, client):
    from incidents.models import NotificationPreference

    user = make_user(Role.MANAGER)
    client.force_login(user)

    client.post("/incidents/notifications/preferences/", {"channels": ["inapp"]})

    assert NotificationPreference.objects.get(user=user).channels == ["inapp"]
    page = client.get("/incidents/notifications/").content.decode()
    assert 'value="inapp" checked' in page and 'value="email" checked' not in page


def test_choosing_no_channel_or_an_unconfigured_slack_is_refused(make_user, client_as):
    client = client_as(Role.EXECUTIVE)

    assert client.put("/api/v1/notifications/preferences/", {"channels": []}, format="json").status_code == 400
    refused = client.put("/api/v1/notifications/preferences/", {"channels": ["slack"]}, format="json")
    assert refused.status_code == 400 and "ask an admin" in str(refused.json())
    assert client.get("/api/v1/notifications/preferences/").json() == {"channels": ["email", "inapp"]}
