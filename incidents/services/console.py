"""The console's writes on many incidents at once: bulk actions, merge, storm-mode acknowledge and its undo.

Each incident still goes through its one-incident service (lifecycle, assignment, severity), so the
timeline, pages and timers behave as for a click on the incident page; one `BulkOperation` row is
the audit entry for the whole operation (what it touched, what it skipped and why).
"""
from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError, InvalidInput
from incidents import events
from incidents.choices import BulkAction, IncidentStatus
from incidents.models import Alert, BulkOperation, Incident

from . import escalation
from .lifecycle import incident_assign, incident_transition
from .severity import SeverityFeatures, features_merge, incident_override_severity, incident_reassess_severity

log = logging.getLogger(__name__)

# One bulk request touches at most this many incidents: each goes through its own service (a few
# queries and a timeline row), so a bigger storm is acknowledged in a few clicks, not one timeout.
BULK_LIMIT = 1000


class UndoExpired(DomainError):
    status_code = 409
    code = "undo_expired"


def _ids(ids: Sequence[int]) -> list[int]:
    unique = list(dict.fromkeys(int(i) for i in ids))
    if not unique:
        raise InvalidInput("Select at least one incident.", field="ids")
    if len(unique) > BULK_LIMIT:
        raise InvalidInput(f"At most {BULK_LIMIT} incidents at once.", field="ids")
    return unique


def incidents_bulk_apply(*, action: str, ids: Sequence[int], user: Any, assignee: Any = None, team: Any = None,
                         level: int | None = None, reason: str = "", note: str = "") -> BulkOperation:
    """Acknowledge, assign, resolve or change the level of each incident; one that cannot (already
    acknowledged, closed...) is skipped with the reason, the others still change."""
    unique = _ids(ids)
    if action == BulkAction.ASSIGN and assignee is None and team is None:
        raise InvalidInput("Name a person or a team to assign to.", field="assignee")
    if action == BulkAction.SEVERITY:
        if level is None:
            raise InvalidInput("The level must be 1, 2, 3 or 4.", field="severity")
        if not (reason or "").strip():
            raise InvalidInput("Say why the level changes (a reason).", field="reason")
    if action not in (BulkAction.ACKNOWLEDGE, BulkAction.ASSIGN, BulkAction.RESOLVE, BulkAction.SEVERITY):
        raise InvalidInput(f"Unknown bulk action {action!r}.", field="action")
    known = set(Incident.objects.filter(pk__in=unique).values_list("pk", flat=True))
    touched: list[int] = []
    skipped: dict[str, str] = {str(pk): "no such incident" for pk in unique if pk not in known}
    for pk in (pk for pk in unique if pk in known):
        try:
            if action == BulkAction.ACKNOWLEDGE:
                incident_transition(incident=pk, to=IncidentStatus.ACKNOWLEDGED, user=user)
            elif action == BulkAction.RESOLVE:
                incident_transition(incident=pk, to=IncidentStatus.RESOLVED, user=user, note=note)
            elif action == BulkAction.ASSIGN:
                incident_assign(incident=pk, user=user, assignee=assignee, team=team)
            else:
                assert level is not None
                incident_override_severity(incident=pk, level=level, reason=reason, user=user)
            touched.append(pk)
        except DomainError as exc:
            skipped[str(pk)] = exc.message
    params: dict[str, Any] = {}
    if assignee is not None:
        params["assignee"] = assignee.get_username()
    if team is not None:
        params["team"] = team.slug
    if level is not None:
        params.update(level=level, reason=reason)
    return BulkOperation.objects.create(action=action, user=user, touched=touched, skipped=skipped, params=params)


def incidents_merge(*, target: int, ids: Sequence[int], user: Any) -> BulkOperation:
    """Merge incidents into `target`: their alerts move there (so repeats of those fingerprints join
    the target: placement follows a fingerprint's last alert), and each resolves "merged into #N"."""
    sources = [pk for pk in _ids(ids) if pk != target]
    if not sources:
        raise InvalidInput("Select at least one incident besides the one to merge into.", field="ids")
    touched: list[int] = []
    skipped: dict[str, str] = {}
    moved_total = 0
    with transaction.atomic():
        locked = Incident.objects.select_for_update().filter(pk=target).first()
        if locked is None:
            raise InvalidInput(f"No incident #{target} to merge into.", field="target")
        if not locked.is_open:
            raise InvalidInput(f"#{target} is {locked.get_status_display().lower()}: merge into an open incident.",
                               field="target")
        features = SeverityFeatures.from_dict(locked.severity_features)
        for source in Incident.objects.select_for_update().filter(pk__in=sources).order_by("pk"):
            if not source.is_open:
                skipped[str(source.pk)] = f"already {source.get_status_display().lower()}"
                continue
            moved = Alert.objects.filter(incident_id=source.pk).update(incident_id=target)
            moved_total += moved
            locked.alert_count += source.alert_count
            locked.last_alert_at = max(locked.last_alert_at, source.last_alert_at)
            locked.last_received_at = max(locked.last_received_at, source.last_received_at)
            features = features_merge(features, SeverityFeatures.from_dict(source.severity_features))
            Incident.objects.filter(pk=source.pk).update(alert_count=0)
            incident_transition(incident=source.pk, to=IncidentStatus.RESOLVED, user=user,
                                note=f"merged into #{target}")
            touched.append(source.pk)
        for pk in sources:
            if pk not in touched and str(pk) not in skipped:
                skipped[str(pk)] = "no such incident"
        # What the merged ones knew (services, KPIs, the sender's severity) counts for the target's
        # level: merging a Level 1 into a Level 3 must not hide it (the rules only ever raise).
        incident_reassess_severity(incident=locked, features=features, save=False)
        locked.save(update_fields=["alert_count", "last_alert_at", "last_received_at", "severity", "severity_source",
                                   "severity_reasons", "severity_features", "rules_severity"])
        if touched:
            events.incidents_merged(incident=locked, sources=touched, alerts=moved_total, actor=user)
        return BulkOperation.objects.create(action=BulkAction.MERGE, user=user, touched=touched, skipped=skipped,
                                            params={"target": target, "alerts_moved": moved_total})


def incidents_storm_acknowledge(*, incidents: Any, query: str, user: Any) -> BulkOperation:
    """Acknowledge every triggered incident of `incidents` (the queue's current filter): one audit row
    listing them, undoable for `UNDO_WINDOW`."""
    pks = list(incidents.filter(status=IncidentStatus.TRIGGERED).order_by().values_list("pk", flat=True)
               [:BULK_LIMIT + 1])
    if not pks:
        raise InvalidInput("Nothing to acknowledge: no triggered incident matches this filter.", field="query")
    if len(pks) > BULK_LIMIT:
        raise InvalidInput(f"More than {BULK_LIMIT} incidents match: narrow the filter.", field="query")
    operation = BulkOperation.objects.create(action=BulkAction.STORM, user=user, query=query[:1000])
    touched: list[int] = []
    skipped: dict[str, str] = {}
    for pk in pks:
        try:
            incident_transition(incident=pk, to=IncidentStatus.ACKNOWLEDGED, user=user,
                                note=f"storm mode (bulk operation #{operation.pk})")
            touched.append(pk)
        except DomainError as exc:
            skipped[str(pk)] = exc.message
    operation.touched, operation.skipped = touched, skipped
    operation.save(update_fields=["touched", "skipped"])
    return operation


def bulk_operation_undo(*, operation: BulkOperation | int, user: Any) -> BulkOperation:
    """Put back to triggered what a storm-mode acknowledge acknowledged, where nobody has moved it
    on since; its escalation timers start again."""
    pk = operation if isinstance(operation, int) else operation.pk
    now = timezone.now()
    with transaction.atomic():
        op = BulkOperation.objects.select_for_update().get(pk=pk)
        if op.action != BulkAction.STORM:
            raise InvalidInput("Only a storm-mode acknowledge can be undone.", field="operation")
        if op.undone_at is not None:
            raise UndoExpired("This operation was already undone.", field="operation")
        if now >= op.undo_until:
            raise UndoExpired("Too late to undo: the undo window has passed.", field="operation")
        reverted: list[int] = []
        for incident in Incident.objects.select_for_update().filter(
                pk__in=op.touched, status=IncidentStatus.ACKNOWLEDGED, acknowledged_by_id=op.user_id,
                acknowledged_at__gte=op.at).order_by("pk"):
            incident.status = IncidentStatus.TRIGGERED
            incident.acknowledged_at = None
            incident.acknowledged_by = None
            incident.save(update_fields=["status", "acknowledged_at", "acknowledged_by"])
            events.acknowledgement_undone(incident=incident, operation_id=op.pk, actor=user)
            reverted.append(incident.pk)
        op.undone_at, op.undone_by = now, user
        op.params = {**op.params, "reverted": reverted}
        op.save(update_fields=["undone_at", "undone_by", "params"])

        def restart() -> None:
            for incident_id in reverted:
                try:
                    with transaction.atomic():
                        escalation.escalation_start(incident_id=incident_id)
                except Exception:  # one broken policy must not stop the others' timers
                    log.exception("re-arming escalation of incident %s failed", incident_id)

        transaction.on_commit(restart)
    return op
