"""Small things a new user found: right durations, notes refused rather than cut, a clean <title>, home cards
that lead where the person may go, one date format with its time zone, humanised MTTA/MTTR, a favicon."""
from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from core.choices import Role
from incidents.choices import IncidentStatus
from incidents.models import TimelineEvent, UserNotification

pytestmark = pytest.mark.django_db


@pytest.fixture
def login(client, make_user):
    def as_(*roles, **extra):
        client.force_login(make_user(*roles, **extra))
        return client

    return as_


def test_the_incident_page_says_how_long_acknowledging_and_resolving_took(make_incident, login):
    opened = timezone.now() - timedelta(hours=3)
    incident = make_incident(opened_at=opened, status=IncidentStatus.RESOLVED,
                             acknowledged_at=opened + timedelta(minutes=12), resolved_at=opened + timedelta(hours=2))
    page = login(Role.MANAGER).get(f"/incidents/{incident.pk}/").content.decode()
    assert "acknowledged after 12\xa0minutes" in page and "resolved after 2\xa0hours" in page


def test_a_note_over_10000_characters_is_refused_with_a_clear_error_not_cut(make_incident, login, operator_client):
    incident = make_incident()
    client = login(Role.OPERATOR)
    response = client.post(f"/incidents/{incident.pk}/note/", {"text": "x" * 10_001}, follow=True)
    assert "at most 10,000 characters; this one has 10,001" in response.content.decode()
    assert not TimelineEvent.objects.filter(incident=incident, kind="note").exists()
    client.post(f"/incidents/{incident.pk}/note/", {"text": "y" * 10_000})
    assert len(TimelineEvent.objects.get(incident=incident, kind="note").message) >= 10_000  # whole


def test_the_notifications_page_title_is_just_its_name(login):
    page = login(Role.OPERATOR).get("/incidents/notifications/").content.decode()
    title = page[page.index("<title>"):page.index("</title>")]
    assert title == "<title>Notifications · AIOps" and "csrf" not in title


def test_home_cards_send_only_staff_to_the_admin(client, make_user):
    client.force_login(make_user(Role.MANAGER))
    assert 'href="/admin/' not in client.get("/").content.decode()
    client.force_login(make_user(Role.ADMIN, is_staff=True))
    assert 'href="/admin/core/service/"' in client.get("/").content.decode()


def test_dates_are_shown_in_one_format_with_the_time_zone(client, make_user):
    user = make_user(Role.OPERATOR)
    note = UserNotification.objects.create(user=user, title="Disk full", level=2)
    client.force_login(user)
    page = client.get("/incidents/notifications/").content.decode()
    assert timezone.localtime(note.created_at).strftime("%Y-%m-%d %H:%M UTC") in page


def test_the_noise_page_prints_mtta_and_mttr_humanised(make_incident, login):
    opened = timezone.now() - timedelta(hours=5)
    make_incident(opened_at=opened, status=IncidentStatus.RESOLVED, acknowledged_at=opened + timedelta(seconds=754),
                  resolved_at=opened + timedelta(hours=3, minutes=17))
    page = login(Role.MANAGER).get("/incidents/noise/?days=7").content.decode()
    assert "13 min / 3.3 h" in page and "0:12:34" not in page


def test_the_favicon_is_linked_and_served(client, login):
    page = login(Role.OPERATOR).get("/").content.decode()
    assert 'rel="icon"' in page and "img/favicon.svg" in page
    response = client.get("/favicon.ico")
    assert response.status_code == 301 and response["Location"].endswith("img/favicon.svg")
