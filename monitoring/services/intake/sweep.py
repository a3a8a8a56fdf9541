"""The sweep (beat, every few seconds) and the admin's replay: rows whose worker died or whose kick was lost."""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from core.drain import partitions_rehome
from monitoring.choices import AlertIntakeStatus
from monitoring.models import AlertIntake

from .claims import MAX_ATTEMPTS, dead_claims
from .drain import alert_intakes_kick
from .receipts import integration_receipts_flush

logger = logging.getLogger(__name__)

# A queued row older than this lost its kick (broker down at commit time): the sweep drains it.
# A drain takes a row within milliseconds; a backlog only costs the sweep a redundant kick.
REQUEUE_AFTER = timedelta(seconds=5)


def alert_intakes_requeue_stale(*, now: datetime | None = None) -> int:
    """The sweep (beat, every ALERT_INTAKE_SWEEP_SECONDS): re-queue rows whose worker died (lease
    run out, rows not held by a live drain) and drain rows whose kick was lost; returns how many
    rows were waiting."""
    now = now or timezone.now()
    with transaction.atomic():
        # SKIP LOCKED: a row a live drain holds is being processed, whatever its lease says.
        dead = list(AlertIntake.objects.select_for_update(skip_locked=True).filter(dead_claims(now))
                    .values_list("pk", "attempts"))
        AlertIntake.objects.filter(pk__in=[pk for pk, attempts in dead if attempts >= MAX_ATTEMPTS]).update(
            status=AlertIntakeStatus.FAILED, processed_at=now, error="claimed too often without finishing"
        )
        back = [pk for pk, attempts in dead if attempts < MAX_ATTEMPTS]
        waiting = AlertIntake.objects.filter(pk__in=back).update(
            status=AlertIntakeStatus.QUEUED, claimed_at=None, claimed_by="", lease_until=None
        )
    if waiting:
        logger.warning("took over %s alert intake rows whose worker died", waiting)
    queued = AlertIntake.objects.filter(status=AlertIntakeStatus.QUEUED)
    partitions_rehome(queued)
    late = queued.filter(received_at__lt=now - REQUEUE_AFTER).exclude(pk__in=back)
    waiting += late.count()
    if waiting:
        partitions = queued.filter(pk__in=back) | late
        for partition in sorted(set(partitions.order_by().values_list("partition", flat=True).distinct())):
            alert_intakes_kick(partition=partition, force=True)
    integration_receipts_flush()
    return waiting


def alert_intakes_replay(*, intake_ids: list[int]) -> int:
    """Queue finished or failed rows again (admin action after fixing a cause); the core dedups."""
    rows = dict(
        AlertIntake.objects.filter(pk__in=intake_ids)
        .exclude(status=AlertIntakeStatus.PROCESSING)
        .values_list("pk", "partition")
    )
    AlertIntake.objects.filter(pk__in=list(rows)).update(status=AlertIntakeStatus.QUEUED, claimed_at=None,
                                                         claimed_by="", lease_until=None, error="")

    def kicks() -> None:
        for partition in sorted(set(rows.values())):
            alert_intakes_kick(partition=partition, force=True)

    if rows:
        transaction.on_commit(kicks)
    return len(rows)
