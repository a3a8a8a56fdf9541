"""Without a broker, `runserver` runs beat's table in a thread: escalation timers fire on a laptop."""
from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from celery.schedules import crontab
from freezegun import freeze_time

from aiops import scheduler
from core.choices import Role
from incidents.choices import DeliveryKind, EscalationStatus
from incidents.models import Delivery, Escalation
from incidents.services import escalation

T0 = datetime.fromisoformat("2026-03-02 09:00:00+00:00")


def test_entries_run_when_due_and_once_per_period():
    calls = []
    table = {
        "sweep": {"task": "t.sweep", "schedule": timedelta(seconds=5)},
        "daily": {"task": "t.daily", "schedule": crontab(hour=9, minute=30), "args": ("daily",)},
    }
    sched = scheduler.InProcessScheduler(table, now=T0, run=lambda task, *args: calls.append((task, args)))

    assert sched.tick(now=T0 + timedelta(seconds=4)) == []
    assert sched.tick(now=T0 + timedelta(seconds=5)) == ["sweep"]
    assert sched.tick(now=T0 + timedelta(seconds=6)) == []  # not again until 5 s later
    assert sched.tick(now=T0 + timedelta(minutes=30)) == ["sweep", "daily"]
    assert sched.tick(now=T0 + timedelta(minutes=31)) == ["sweep"]  # the crontab waits for tomorrow
    assert calls[-2] == ("t.daily", ("daily",))


def test_a_failing_task_does_not_stop_the_others():
    calls = []

    def run(task, *args):
        calls.append(task)
        if task == "t.bad":
            raise RuntimeError("boom")

    table = {"bad": {"task": "t.bad", "schedule": timedelta(seconds=1)},
             "good": {"task": "t.good", "schedule": timedelta(seconds=1)}}
    sched = scheduler.InProcessScheduler(table, now=T0, run=run)
    assert sched.tick(now=T0 + timedelta(seconds=2)) == ["bad", "good"]
    assert calls == ["t.bad", "t.good"]


@pytest.mark.django_db
def test_the_beat_table_escalates_an_unacknowledged_incident_in_process(
    settings, make_user, make_team, make_service, make_incident
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    team = make_team()
    team.members.add(make_user(Role.OPERATOR))
    executive = make_user(Role.EXECUTIVE)
    with freeze_time(T0):
        incident = make_incident(severity=1, service=make_service(team=team))
        escalation.escalation_start(incident_id=incident.pk)
        sched = scheduler.InProcessScheduler(settings.CELERY_BEAT_SCHEDULE)  # the real table, real tasks

    with freeze_time(T0 + timedelta(minutes=4)):  # Level 1's 5-minute target has not passed
        sched.tick()
    assert Escalation.objects.get().step == 0

    with freeze_time(T0 + timedelta(minutes=5, seconds=6)):
        ran = sched.tick()
    assert "incidents-response-sweep" in ran
    state = Escalation.objects.get()
    assert state.step == 1 and state.status == EscalationStatus.ACTIVE
    assert Delivery.objects.filter(kind=DeliveryKind.ESCALATION, recipient=executive).exists()


def test_it_starts_only_without_a_broker(settings, monkeypatch):
    started = []
    monkeypatch.setattr(scheduler.InProcessScheduler, "start", lambda self: started.append(self))
    monkeypatch.setattr(scheduler, "_started", None)
    settings.CELERY_TASK_ALWAYS_EAGER = False
    assert scheduler.scheduler_start_if_needed() is None
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.INPROCESS_SCHEDULER = False
    assert scheduler.scheduler_start_if_needed() is None
    settings.INPROCESS_SCHEDULER = True
    first = scheduler.scheduler_start_if_needed()
    assert first is not None and scheduler.scheduler_start_if_needed() is first and started == [first]
