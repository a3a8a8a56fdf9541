"""Playbooks on incidents: attach the best match as a run, tick checklist steps, run automated steps."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone

from core.choices import Role
from core.enqueue import enqueue
from core.exceptions import DomainError, InvalidInput, NotFound
from core.selectors import user_roles
from incidents import events
from incidents.choices import IncidentStatus, PlaybookPhase, StepKind, StepStatus
from incidents.models import Alert, Incident, Playbook, PlaybookRun, PlaybookStepRun
from incidents.notifications.base import TransportError
from incidents.notifications.webhook import post_json
from incidents.playbooks import engine
from incidents.playbooks.actions import ActionResult, UnknownAction, get_action


class StepAlreadyFinished(DomainError):
    code = "step_finished"


class StepNotYours(DomainError):
    status_code = 403
    code = "step_not_yours"


class StepNotAutomated(DomainError):
    status_code = 400
    code = "not_automated"


@dataclass(frozen=True, slots=True, kw_only=True)
class StepExecution:
    status: str
    result: dict
    error: str = ""


def incident_facts(*, incident: Incident) -> engine.IncidentFacts:
    labels: dict[str, str] = {}
    kinds: set[str] = set()
    for alert in Alert.objects.filter(incident=incident).only("labels", "source_kind").order_by("pk")[:200]:
        for key, value in (alert.labels or {}).items():
            labels.setdefault(str(key), str(value))
        if alert.source_kind:
            kinds.add(alert.source_kind)
    return engine.IncidentFacts(
        service_id=incident.service_id, severity=incident.severity, title=incident.title or "",
        labels=labels, source_kinds=frozenset(kinds),
    )


def playbook_criteria(playbook: Playbook) -> engine.PlaybookCriteria:
    return engine.PlaybookCriteria(
        playbook_id=playbook.pk, priority=playbook.priority,
        service_ids=frozenset(s.pk for s in playbook.services.all()),
        severities=frozenset(int(s) for s in playbook.severities or []),
        source_kinds=frozenset(str(k) for k in playbook.source_kinds or []),
        labels={str(k): str(v) for k, v in (playbook.labels or {}).items()},
        keywords=tuple(playbook.keyword_list),
    )


def playbook_select(*, incident: Incident) -> tuple[Playbook, str] | None:
    playbooks = {p.pk: p for p in Playbook.objects.filter(enabled=True).prefetch_related("services")}
    found = engine.best_match((playbook_criteria(p) for p in playbooks.values()), incident_facts(incident=incident))
    return (playbooks[found.playbook_id], found.reason) if found else None


@transaction.atomic
def playbook_attach(*, incident_id: int, playbook: Playbook | None = None,
                    reason: str = "chosen by an operator") -> PlaybookRun | None:
    """Attach the best-matching playbook (once per incident); automated steps marked auto-run start at once."""
    incident = Incident.objects.select_related("service").get(pk=incident_id)
    existing = PlaybookRun.objects.filter(incident=incident).first()
    if existing is not None:
        return existing
    if playbook is None:
        selected = playbook_select(incident=incident)
        if selected is None:
            return None
        playbook, reason = selected
    try:
        with transaction.atomic():
            run = PlaybookRun.objects.create(incident=incident, playbook=playbook, playbook_name=playbook.name,
                                             match_reason=reason[:300])
    except IntegrityError:  # a concurrent attach won the one-run-per-incident constraint
        return PlaybookRun.objects.get(incident=incident)
    steps = PlaybookStepRun.objects.bulk_create([
        PlaybookStepRun(
            run=run, step=step, position=index, phase=step.phase, title=step.title, description=step.description,
            kind=step.kind, owner_role=step.owner_role, expected_minutes=step.expected_minutes,
            action_name=step.action_name, params=step.params or {}, webhook_url=step.webhook_url,
            webhook_secret=step.webhook_secret, ticks_on=step.ticks_on,
            status=StepStatus.QUEUED if step.auto_run and step.kind != StepKind.CHECKLIST else StepStatus.PENDING,
        )
        for index, step in enumerate(playbook.steps.all(), start=1)
    ])
    events.playbook_attached(incident=incident, playbook=run.playbook_name, reason=reason, steps=len(steps))
    # Attached after someone already acknowledged (or resolved): its lifecycle steps are done already.
    playbook_lifecycle_tick(incident_id=incident.pk, statuses=incident_statuses_reached(incident),
                            user=incident.acknowledged_by)
    for step_run in PlaybookStepRun.objects.filter(run=run, status=StepStatus.QUEUED).values_list("pk", flat=True):
        enqueue("incidents.run_playbook_step", step_run)
    return run


@transaction.atomic
def playbook_reconsider(*, incident_id: int) -> PlaybookRun | None:
    """After a level change: swap the attached playbook for today's best match if nobody has worked it yet."""
    run = PlaybookRun.objects.select_for_update().filter(incident_id=incident_id).first()
    if run is None:
        return playbook_attach(incident_id=incident_id)
    if run.steps.exclude(status=StepStatus.PENDING).exists():
        return run  # people (or automation) started on it: switching now would lose their place
    incident = Incident.objects.select_related("service").get(pk=incident_id)
    selected = playbook_select(incident=incident)
    if selected is None or selected[0].pk == run.playbook_id:
        return run
    old_name = run.playbook_name
    run.delete()
    playbook, reason = selected
    return playbook_attach(incident_id=incident_id, playbook=playbook,
                           reason=f"{reason}; replaced “{old_name}” after the level changed")


def _step_get(*, incident_id: int, step_run_id: int) -> PlaybookStepRun:
    step = (PlaybookStepRun.objects.select_related("run", "run__incident")
            .filter(pk=step_run_id, run__incident_id=incident_id).first())
    if step is None:
        raise NotFound(f"incident {incident_id} has no playbook step {step_run_id}", field="step_id")
    return step


def _run_maybe_complete(run: PlaybookRun, *, now: datetime) -> None:
    unfinished = run.steps.exclude(status__in=[StepStatus.DONE, StepStatus.SKIPPED]).exists()
    PlaybookRun.objects.filter(pk=run.pk).update(completed_at=None if unfinished else now)


def playbook_step_allowed(*, step: PlaybookStepRun, user) -> bool:
    """Operators and admins may tick any step; anyone else the steps owned by a role they hold (a manager
    ticks "name an incident lead")."""
    held = user_roles(user)
    return bool(held & {Role.OPERATOR, Role.ADMIN}) or (bool(step.owner_role) and step.owner_role in held)


@transaction.atomic
def playbook_step_complete(*, incident_id: int, step_run_id: int, user, note: str = "") -> PlaybookStepRun:
    """Someone ticks a step (a checklist item, or an automated step done by hand); StepNotYours (403) when the
    step is owned by a role they do not hold."""
    step = _step_get(incident_id=incident_id, step_run_id=step_run_id)
    if not playbook_step_allowed(step=step, user=user):
        owner = Role(step.owner_role).label.lower() if step.owner_role in Role.values else "operator"
        raise StepNotYours(f"This step is for the {owner} role; operators and admins may tick any step.",
                           field="step_id")
    now = timezone.now()
    open_step = PlaybookStepRun.objects.filter(pk=step.pk).exclude(status__in=[StepStatus.DONE, StepStatus.RUNNING])
    updated = open_step.update(
        status=StepStatus.DONE, done_by=user, finished_at=now,
        result={**(step.result or {}), **({"note": note[:2000]} if note else {})},
    )
    if not updated:
        raise StepAlreadyFinished(f"step {step.pk} is already {step.get_status_display().lower()}", field="step_id")
    step.refresh_from_db()
    events.playbook_step_done(incident=step.run.incident, step=step.title, actor=user,
                              outcome="done" + (f" ({note[:200]})" if note else ""),
                              data={"step_run_id": step.pk, "phase": step.phase})
    _run_maybe_complete(step.run, now=now)
    return step


@transaction.atomic
def playbook_step_request_run(*, incident_id: int, step_run_id: int, user=None) -> PlaybookStepRun:
    """Queue an automated step (again, after a failure)."""
    step = _step_get(incident_id=incident_id, step_run_id=step_run_id)
    if step.kind == StepKind.CHECKLIST:
        raise StepNotAutomated("a checklist step is ticked, not run", field="step_id")
    updated = PlaybookStepRun.objects.filter(pk=step.pk, status__in=[StepStatus.PENDING, StepStatus.FAILED]).update(
        status=StepStatus.QUEUED, error=""
    )
    if not updated:
        raise StepAlreadyFinished(f"step {step.pk} is {step.get_status_display().lower()}", field="step_id")
    enqueue("incidents.run_playbook_step", step.pk)
    step.refresh_from_db()
    return step


def playbook_step_execute(*, step_run_id: int) -> StepExecution:
    """Run a queued automated step once (claimed by a conditional update) and record its result."""
    now = timezone.now()
    claimed = PlaybookStepRun.objects.filter(pk=step_run_id, status=StepStatus.QUEUED).update(
        status=StepStatus.RUNNING, started_at=now
    )
    step = PlaybookStepRun.objects.select_related("run", "run__incident").get(pk=step_run_id)
    if not claimed:
        return StepExecution(status="skipped", result=step.result or {})
    PlaybookStepRun.objects.filter(pk=step.pk).update(attempts=step.attempts + 1)
    incident = step.run.incident
    try:
        if step.kind == StepKind.WEBHOOK:
            response = post_json(url=step.webhook_url, secret=step.webhook_secret, payload={
                "incident": {"id": incident.pk, "title": incident.title, "severity": incident.severity,
                             "service": incident.service.name if incident.service_id else ""},
                "step": {"id": step.pk, "title": step.title, "phase": step.phase},
                "params": step.params or {},
            })
            result = ActionResult(ok=True, detail=f"HTTP {response.status_code}",
                                  data={"status_code": response.status_code, "body": response.text[:500]})
        else:
            result = get_action(step.action_name)(incident=incident, params=dict(step.params or {}))
    except TransportError as exc:
        result = ActionResult(ok=False, detail=exc.message)
    except UnknownAction as exc:
        result = ActionResult(ok=False, detail=str(exc))
    except Exception as exc:  # an action's bug is the step's failure, recorded, not a crashed worker
        result = ActionResult(ok=False, detail=f"{type(exc).__name__}: {exc}")
    finished = timezone.now()
    status = StepStatus.DONE if result.ok else StepStatus.FAILED
    payload = {"ok": result.ok, "message": result.detail, "data": dict(result.data or {})}
    PlaybookStepRun.objects.filter(pk=step.pk).update(
        status=status, result=payload, error="" if result.ok else result.detail[:2000], finished_at=finished
    )
    step.refresh_from_db()
    events.playbook_step_done(
        incident=incident, step=step.title,
        outcome=("succeeded" if result.ok else "failed") + (f": {result.detail[:300]}" if result.detail else ""),
        data={"step_run_id": step.pk, "phase": step.phase, "automated": True, "ok": result.ok},
    )
    _run_maybe_complete(step.run, now=finished)
    return StepExecution(status=status, result=payload, error=step.error)


# --- lifecycle and playbook agree -------------------------------------------------------------

OPEN_STEP_STATUSES = (StepStatus.PENDING, StepStatus.FAILED)  # waiting for someone (queued/running: a worker)
SKIP_REASON_MAX = 500


def incident_statuses_reached(incident: Incident) -> list[str]:
    """The lifecycle statuses the incident has passed through (by its stamps)."""
    stamps = {IncidentStatus.ACKNOWLEDGED: incident.acknowledged_at, IncidentStatus.INVESTIGATING:
              incident.investigating_at, IncidentStatus.MITIGATED: incident.mitigated_at,
              IncidentStatus.RESOLVED: incident.resolved_at}
    return [status for status, at in stamps.items() if at is not None]


def playbook_lifecycle_tick(*, incident_id: int, statuses: list[str], user=None,
                            now: datetime | None = None) -> list[PlaybookStepRun]:
    """Tick the open steps that tick themselves on one of `statuses` ("acknowledge it" on acknowledge)."""
    if not statuses:
        return []
    now = now or timezone.now()
    steps = list(PlaybookStepRun.objects.select_related("run").filter(
        run__incident_id=incident_id, ticks_on__in=statuses, status__in=OPEN_STEP_STATUSES))
    for step in steps:
        PlaybookStepRun.objects.filter(pk=step.pk, status__in=OPEN_STEP_STATUSES).update(
            status=StepStatus.DONE, done_by=user, finished_at=now,
            result={**(step.result or {}), "ticked_by": f"incident {step.ticks_on}"})
        events.playbook_step_done(incident=incident_id, step=step.title, actor=user,
                                  outcome=f"done (the incident was {step.ticks_on})",
                                  data={"step_run_id": step.pk, "phase": step.phase, "lifecycle": step.ticks_on})
    if steps:
        _run_maybe_complete(steps[0].run, now=now)
    return steps


def playbook_open_steps(*, incident_id: int) -> list[PlaybookStepRun]:
    """Steps still waiting for someone, before the post-incident phase (that one comes after resolving)."""
    return list(PlaybookStepRun.objects.filter(run__incident_id=incident_id, status__in=OPEN_STEP_STATUSES)
                .exclude(phase=PlaybookPhase.POST_INCIDENT).order_by("position", "id"))


@transaction.atomic
def playbook_open_steps_skip(*, incident_id: int, user, reason: str) -> list[PlaybookStepRun]:
    """Skip every open step (not post-incident ones) with the reason, each recorded in the timeline."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the open playbook steps are skipped.", field="skip_reason")
    if len(reason) > SKIP_REASON_MAX:
        raise InvalidInput(f"A skip reason may have at most {SKIP_REASON_MAX} characters.", field="skip_reason")
    now = timezone.now()
    steps = playbook_open_steps(incident_id=incident_id)
    for step in steps:
        PlaybookStepRun.objects.filter(pk=step.pk, status__in=OPEN_STEP_STATUSES).update(
            status=StepStatus.SKIPPED, done_by=user, finished_at=now,
            result={**(step.result or {}), "skip_reason": reason})
        events.playbook_step_done(incident=incident_id, step=step.title, actor=user, outcome=f"skipped: {reason}",
                                  data={"step_run_id": step.pk, "phase": step.phase, "skipped": True})
    run = PlaybookRun.objects.filter(incident_id=incident_id).first()
    if run is not None:
        _run_maybe_complete(run, now=now)
    return steps

