"""The priority lane: a request carrying a firing critical alert is processed at once, not behind a storm.

Rows are drained in order per partition, so during a storm a critical alert's row waits behind
every row queued before it in its partition, and behind the other partitions' drains holding the
ingest workers: its page left tens of seconds late (issue 16's fault suite). After storing such a
row the request path also asks for `monitoring.priority_alert_intake` on the `notify` queue (pages
never wait behind intake), which processes the one row through the same claim as the drain, so it
is processed once whoever gets there first. It only jumps the queue when its own sender has nothing
queued before it: one sender's rows stay in order (a resolve is never overtaken by a later re-fire).
"""
from __future__ import annotations

from django.db.models import Q

from core.enqueue import is_eager, kick
from incidents.choices import SEVERITY_HINT_ALIASES
from monitoring.choices import AlertIntakeStatus
from monitoring.formats.base import ParsedIntake
from monitoring.models import AlertIntake

from .batch import alert_intake_process

PRIORITY_TASK = "monitoring.priority_alert_intake"


def is_priority(parsed: ParsedIntake) -> bool:
    """A firing signal whose sender calls it critical: a page is likely to follow."""
    return any(signal.status == "firing" and SEVERITY_HINT_ALIASES.get(signal.severity_hint.lower()) == "critical"
               for signal in parsed.signals)


def alert_intake_priority_kick(*, intake_id: int, integration_id: int) -> None:
    """After the row's commit: publish the priority task (background, debounced per integration). Never raises."""
    if is_eager():
        return  # in-process, the partition's drain already ran in the request
    kick(f"alert-intake-priority:{integration_id}", PRIORITY_TASK, intake_id, background=True)


def alert_intake_process_priority(*, intake_id: int) -> AlertIntake | None:
    """Process the row now unless its sender has rows queued before it (the drain keeps their order);
    None when it was not processed here."""
    row = AlertIntake.objects.filter(pk=intake_id, status=AlertIntakeStatus.QUEUED).values(
        "integration_id", "received_at").first()
    if row is None:
        return None  # the drain took it first
    before = Q(received_at__lt=row["received_at"]) | Q(received_at=row["received_at"], pk__lt=intake_id)
    if AlertIntake.objects.filter(before, integration_id=row["integration_id"], status__in=[
            AlertIntakeStatus.QUEUED, AlertIntakeStatus.PROCESSING]).exists():
        return None
    return alert_intake_process(intake_id=intake_id)
