"""Daily digest (Level 4 + summary of all levels) and the weekly KPI report, by command and beat task."""
from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from django.core.management import call_command

from core.choices import Role
from incidents.choices import DeliveryKind
from incidents.models import Delivery
from incidents.services import digests

pytestmark = pytest.mark.django_db

DAY = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


@pytest.fixture
def week(make_user, make_team, make_service, make_incident):
    team = make_team()
    member = make_user(Role.OPERATOR, username="oncall")
    team.members.add(member)
    noisy = make_service("noisy-svc", team=team)
    quiet = make_service("quiet-svc", team=team)
    manager = make_user(Role.MANAGER, username="boss")
    low = make_incident(severity=4, service=noisy, title="Disk 81% on batch host", opened_at=DAY, alert_count=40)
    high = make_incident(severity=2, service=quiet, title="API errors", opened_at=DAY + timedelta(hours=2),
                         acknowledged_at=DAY + timedelta(hours=2, minutes=10),
                         resolved_at=DAY + timedelta(hours=3), alert_count=3)
    return {"member": member, "manager": manager, "low": low, "high": high}


def test_daily_digest_lists_level_4_incidents_and_summarises_all_levels(week, mailoutbox, run_on_commit):
    with run_on_commit(execute=True):
        result = digests.digest_send(period="daily", today=date(2026, 3, 3))

    assert result.recipients == 2  # the L4 service's team member and the manager
    assert {m.to[0] for m in mailoutbox} == {"oncall@example.com", "boss@example.com"}
    body = mailoutbox[0].body
    assert "Daily digest 2026-03-02: 2 incidents" in mailoutbox[0].subject
    assert f"#{week['low'].pk} Disk 81% on batch host" in body
    assert "API errors" not in body  # only Level 4 is listed; the others are counted
    assert "L2 High" in body and "L4 Low" in body


def test_running_the_same_daily_digest_again_sends_nothing_new(week, mailoutbox, run_on_commit):
    with run_on_commit(execute=True):
        digests.digest_send(period="daily", today=date(2026, 3, 3))
        again = digests.digest_send(period="daily", today=date(2026, 3, 3))

    assert again.deliveries == 0
    assert len(mailoutbox) == 2


def test_weekly_report_goes_to_managers_with_counts_mtta_mttr_and_noisy_services(week, mailoutbox, run_on_commit):
    with run_on_commit(execute=True):
        call_command("send_digest", "--period", "weekly", "--today", "2026-03-09")

    assert [m.to for m in mailoutbox] == [["boss@example.com"]]
    body = mailoutbox[0].body
    assert "Weekly KPI report 2026-03-02 to 2026-03-08" in mailoutbox[0].subject
    assert "MTTA (mean time to acknowledge): 10.0 min" in body
    assert "MTTR (mean time to resolve):     60.0 min" in body
    assert body.index("noisy-svc") < body.index("quiet-svc")
    assert Delivery.objects.filter(kind=DeliveryKind.REPORT).count() == 2  # e-mail + in-app


def test_digests_are_on_the_beat_schedule(settings):
    tasks = {entry["task"]: entry for entry in settings.CELERY_BEAT_SCHEDULE.values()}
    assert tasks["incidents.notify_digest"]["options"]["expires"] > 0
    assert "incidents.sweep_response" in tasks
