"""Pages by severity level as e-mail to a real local SMTP server: who gets them, subject, link, HTML part."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents.services import deliveries, notifications

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(make_user, make_team, make_service):
    team = make_team("Checkout")
    member = make_user(Role.OPERATOR, username="member")
    team.members.add(member)
    return {
        "executive": make_user(Role.EXECUTIVE, username="exec"),
        "manager": make_user(Role.MANAGER, username="boss"),
        "member": member,
        "outsider": make_user(Role.OPERATOR, username="outsider"),
        "service": make_service("checkout-api", team=team),
    }


def page(make_incident, django_capture_on_commit_callbacks, *, severity, service):
    incident = make_incident(severity=severity, service=service, title="Payments failing")
    with django_capture_on_commit_callbacks(execute=True):
        notifications.incident_notify(incident_id=incident.pk)
    return incident


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        pytest.param(1, {"exec", "boss", "member"}, id="level_1_executives_management_and_team"),
        pytest.param(2, {"boss", "member"}, id="level_2_management_and_team"),
        pytest.param(3, {"member"}, id="level_3_team_only"),
        pytest.param(4, set(), id="level_4_digest_only"),
    ],
)
def test_each_level_mails_the_people_its_policy_names(
    severity, expected, people, smtp_server, make_incident, django_capture_on_commit_callbacks
):
    page(make_incident, django_capture_on_commit_callbacks, severity=severity, service=people["service"])

    assert smtp_server.recipients == {f"{name}@example.com" for name in expected}
    assert all(len(rcpts) == 1 for rcpts, _ in smtp_server.messages)  # one message per person, no shared To:


def test_page_subject_names_the_level_and_the_body_links_back(
    people, smtp_server, make_incident, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://aiops.example.test"
    incident = page(make_incident, django_capture_on_commit_callbacks, severity=1, service=people["service"])

    [message] = smtp_server.to("boss@example.com")
    assert message["Subject"].startswith("[AIOps L1 ")
    assert "Payments failing" in message["Subject"]
    link = f"https://aiops.example.test/incidents/{incident.pk}/"
    plain = message.get_body(preferencelist=("plain",)).get_content()
    html = message.get_body(preferencelist=("html",)).get_content()
    assert link in plain
    assert f'href="{link}"' in html


def test_person_who_chose_only_in_app_gets_no_email(
    people, smtp_server, make_incident, django_capture_on_commit_callbacks
):
    from incidents.models import NotificationPreference, UserNotification

    NotificationPreference.objects.create(user=people["manager"], channels=["inapp"])
    page(make_incident, django_capture_on_commit_callbacks, severity=2, service=people["service"])

    assert smtp_server.recipients == {"member@example.com"}
    assert UserNotification.objects.filter(user=people["manager"]).count() == 1


def test_mailbox_refused_permanently_fails_at_once_and_temporarily_retries(
    people, smtp_server, make_incident, django_capture_on_commit_callbacks
):
    from incidents.choices import DeliveryStatus
    from incidents.models import Delivery

    smtp_server.refuse = {"boss@example.com": "550 5.1.1 no such user", "exec@example.com": "451 4.3.0 try later"}

    incident = page(make_incident, django_capture_on_commit_callbacks, severity=1, service=people["service"])

    boss = Delivery.objects.get(incident=incident, recipient=people["manager"], channel="email")
    assert boss.status == DeliveryStatus.FAILED and boss.attempts == 1 and "550" in boss.last_error
    executive = Delivery.objects.get(incident=incident, recipient=people["executive"], channel="email")
    assert executive.status == DeliveryStatus.FAILED and executive.attempts == deliveries.MAX_ATTEMPTS
    assert smtp_server.recipients == {"member@example.com"}
