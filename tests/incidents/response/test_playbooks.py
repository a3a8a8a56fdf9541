"""Playbooks on incidents: the best default attaches, operators tick steps, automated steps run and record."""
from __future__ import annotations

import pytest

from core.choices import Role
from incidents.choices import StepKind, StepStatus
from incidents.models import Playbook, PlaybookRun, PlaybookStep, PlaybookStepRun
from incidents.notifications.webhook import verify
from incidents.playbooks.actions import ActionResult, register_action
from incidents.services import playbooks

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("severity", "name"),
    [
        pytest.param(1, "Level 1 critical: system-wide failure", id="level_1"),
        pytest.param(2, "Level 2 high: partial failure", id="level_2"),
        pytest.param(3, "Level 3 medium: performance degradation", id="level_3"),
        pytest.param(4, "Level 4 low: minor issue", id="level_4"),
    ],
)
def test_default_playbook_for_the_level_attaches(severity, name, make_incident):
    incident = make_incident(severity=severity)

    run = playbooks.playbook_attach(incident_id=incident.pk)

    assert run.playbook_name == name
    phases = list(run.steps.values_list("phase", flat=True))
    assert phases[0] == "immediate" and phases[-1] == "post_incident"
    assert all(s.status == StepStatus.PENDING for s in run.steps.all())


def test_model_signal_gets_the_model_drift_playbook(make_incident):
    incident = make_incident(severity=2, source_kind="model", title="Drift on journey-eta-model")

    run = playbooks.playbook_attach(incident_id=incident.pk)

    assert run.playbook_name == "Model drift or degradation"
    assert "source model" in run.match_reason
    assert {"retrain_model", "rollback_model"} <= set(run.steps.values_list("action_name", flat=True))


def test_attaching_twice_keeps_one_run(make_incident):
    incident = make_incident(severity=3)

    first = playbooks.playbook_attach(incident_id=incident.pk)
    second = playbooks.playbook_attach(incident_id=incident.pk)

    assert first.pk == second.pk
    assert PlaybookRun.objects.count() == 1


def test_operator_ticks_a_step_through_the_api_and_the_timeline_records_it(make_incident, client_as):
    incident = make_incident(severity=3)
    run = playbooks.playbook_attach(incident_id=incident.pk)
    step = run.steps.first()
    client = client_as(Role.OPERATOR)

    response = client.post(f"/api/v1/incidents/{incident.pk}/playbook/steps/{step.pk}/done/", {"note": "checked"},
                           format="json")

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "done"
    step.refresh_from_db()
    assert step.status == StepStatus.DONE and step.done_by is not None
    assert incident.timeline.filter(kind="playbook_step").exists()
    again = client.post(f"/api/v1/incidents/{incident.pk}/playbook/steps/{step.pk}/done/", format="json")
    assert again.status_code == 409


def test_managers_cannot_tick_steps_and_unknown_steps_are_404(make_incident, client_as):
    incident = make_incident(severity=3)
    step = playbooks.playbook_attach(incident_id=incident.pk).steps.first()

    assert client_as(Role.MANAGER).post(
        f"/api/v1/incidents/{incident.pk}/playbook/steps/{step.pk}/done/").status_code == 403
    assert client_as(Role.OPERATOR).post(
        f"/api/v1/incidents/{incident.pk}/playbook/steps/999999/done/").status_code == 404


def test_ticking_every_step_completes_the_run(make_incident, make_user):
    incident = make_incident(severity=4)
    run = playbooks.playbook_attach(incident_id=incident.pk)
    user = make_user(Role.OPERATOR)

    for step in run.steps.all():
        playbooks.playbook_step_complete(incident_id=incident.pk, step_run_id=step.pk, user=user)

    run.refresh_from_db()
    assert run.completed_at is not None


def test_page_button_ticks_the_step(make_incident, make_user, client):
    incident = make_incident(severity=3)
    step = playbooks.playbook_attach(incident_id=incident.pk).steps.first()
    client.force_login(make_user(Role.OPERATOR))

    response = client.post(f"/incidents/{incident.pk}/playbook/steps/{step.pk}/done/")

    assert response.status_code == 302
    step.refresh_from_db()
    assert step.status == StepStatus.DONE


@register_action("test_record_params")
def _record_params(*, incident, params):
    return ActionResult(ok=True, detail=f"saw {params['x']} on #{incident.pk}", data={"x": params["x"]})


@register_action("test_explode")
def _explode(*, incident, params):
    raise RuntimeError("boom")


def automated_playbook(**step):
    playbook = Playbook.objects.create(name="Automated", severities=[2], priority=99)
    PlaybookStep.objects.create(playbook=playbook, position=1, title="Automated step", **step)
    return playbook


def test_auto_run_action_step_runs_through_celery_and_records_its_result(
    make_incident, django_capture_on_commit_callbacks
):
    automated_playbook(kind=StepKind.ACTION, action_name="test_record_params", params={"x": 42}, auto_run=True)
    incident = make_incident(severity=2)

    with django_capture_on_commit_callbacks(execute=True):
        run = playbooks.playbook_attach(incident_id=incident.pk)

    step = run.steps.get()
    assert step.status == StepStatus.DONE
    assert step.result == {"ok": True, "message": f"saw 42 on #{incident.pk}", "data": {"x": 42}}
    assert incident.timeline.filter(kind="playbook_step").exists()


def test_failing_action_is_recorded_and_can_be_run_again(make_incident, client_as, django_capture_on_commit_callbacks):
    automated_playbook(kind=StepKind.ACTION, action_name="test_explode", auto_run=True)
    incident = make_incident(severity=2)
    with django_capture_on_commit_callbacks(execute=True):
        run = playbooks.playbook_attach(incident_id=incident.pk)
    step = run.steps.get()
    assert step.status == StepStatus.FAILED and "boom" in step.error

    with django_capture_on_commit_callbacks(execute=True):
        response = client_as(Role.OPERATOR).post(f"/api/v1/incidents/{incident.pk}/playbook/steps/{step.pk}/run/")

    assert response.status_code == 202
    step.refresh_from_db()
    assert step.attempts == 2 and step.status == StepStatus.FAILED


def test_unknown_action_fails_the_step_with_a_reason(make_incident, django_capture_on_commit_callbacks):
    automated_playbook(kind=StepKind.ACTION, action_name="no_such_action", auto_run=True)
    incident = make_incident(severity=2)

    with django_capture_on_commit_callbacks(execute=True):
        run = playbooks.playbook_attach(incident_id=incident.pk)

    step = run.steps.get()
    assert step.status == StepStatus.FAILED
    assert "no_such_action" in step.error


def test_webhook_step_posts_signed_json(http_receiver, make_incident, django_capture_on_commit_callbacks):
    automated_playbook(kind=StepKind.WEBHOOK, webhook_url=http_receiver.url, webhook_secret="k", auto_run=True,
                       params={"runbook": "restart"})
    incident = make_incident(severity=2)

    with django_capture_on_commit_callbacks(execute=True):
        run = playbooks.playbook_attach(incident_id=incident.pk)

    [request] = http_receiver.requests
    assert verify(request.body, "k", request.headers["X-AIOps-Signature"])
    assert request.json["incident"]["id"] == incident.pk
    assert request.json["params"] == {"runbook": "restart"}
    assert run.steps.get().status == StepStatus.DONE


def test_silence_for_and_escalate_now_are_registered_actions():
    from incidents.playbooks.actions import get_action

    for name in ("silence_for", "escalate_now", "call_webhook"):
        assert callable(get_action(name))


def test_incident_page_shows_the_playbook_panel(make_incident, make_user, client):
    incident = make_incident(severity=3)
    playbooks.playbook_attach(incident_id=incident.pk)
    client.force_login(make_user(Role.OPERATOR))

    page = client.get(f"/incidents/{incident.pk}/").content.decode()

    assert "Level 3 medium: performance degradation" in page
    assert PlaybookStepRun.objects.first().title in page
    assert "Nobody has been notified about this incident" in page


def test_incident_page_without_a_matching_playbook_says_so(make_incident, make_user, client):
    Playbook.objects.all().delete()
    incident = make_incident(severity=3)
    client.force_login(make_user(Role.OPERATOR))

    assert "No playbook matched this incident." in client.get(f"/incidents/{incident.pk}/").content.decode()


def test_level_change_swaps_an_untouched_playbook_for_the_new_best_match(make_incident):
    from incidents.services.response import on_severity_changed

    incident = make_incident(severity=2)
    playbooks.playbook_attach(incident_id=incident.pk)
    type(incident).objects.filter(pk=incident.pk).update(severity=1)

    on_severity_changed(incident_id=incident.pk, old=2, new=1)

    run = PlaybookRun.objects.get(incident=incident)
    assert run.playbook_name == "Level 1 critical: system-wide failure"
    assert "replaced “Level 2 high: partial failure”" in run.match_reason


def test_level_change_keeps_a_playbook_someone_started(make_incident, make_user):
    from incidents.services.response import on_severity_changed

    incident = make_incident(severity=2)
    run = playbooks.playbook_attach(incident_id=incident.pk)
    playbooks.playbook_step_complete(incident_id=incident.pk, step_run_id=run.steps.first().pk,
                                     user=make_user(Role.OPERATOR))
    type(incident).objects.filter(pk=incident.pk).update(severity=1)

    on_severity_changed(incident_id=incident.pk, old=2, new=1)

    assert PlaybookRun.objects.get(incident=incident).playbook_name == "Level 2 high: partial failure"
