"""Claims on intake rows: who works on a row, and until when (a lease); dead claims are taken over.

A claim (committed, with its worker and a short lease) only says who works on a row; the rows are
processed under a row lock (see batch.py), so a row past its lease that no transaction holds lost
its worker and is taken over.
"""
from __future__ import annotations

import os
import secrets
import socket
from collections import Counter
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from core.models import Integration
from monitoring.choices import AlertIntakeStatus
from monitoring.models import AlertIntake

# Rows claimed per drain step: one signals_ingest call for all their signals. Large enough to
# amortise the claim and the status update, small enough that a step takes about a second.
DRAIN_BATCH = 100
# Rows claimed before claims carried a lease (no lease_until): their worker died after this long.
STALE_CLAIM_AFTER = timedelta(minutes=5)
# Claims of a row before it is recorded FAILED (database trouble each time).
MAX_ATTEMPTS = 6


def alert_intakes_claim(*, limit: int = DRAIN_BATCH, intake_id: int | None = None, partition: int | None = None,
                        now: datetime | None = None) -> list[AlertIntake]:
    """Take up to `limit` queued rows (of `partition`, else of any), oldest first, skipping rows
    another worker is claiming.

    The claim commits with its worker and a lease (ALERT_INTAKE_LEASE_SECONDS); the rows are
    processed under a row lock (see alert_intakes_process_batch), so the lease only has to cover
    the moment between the two. `intake_id` claims that one row, also when its claim is dead.
    A row claimed for the first time counts as a received request of its integration.
    """
    now = now or timezone.now()
    token = _claim_token()
    with transaction.atomic():
        rows = AlertIntake.objects.select_for_update(skip_locked=True)
        if intake_id is None:
            rows = rows.filter(status=AlertIntakeStatus.QUEUED).order_by("received_at", "id")
            if partition is not None:
                rows = rows.filter(partition=partition)
        else:
            rows = rows.filter(pk=intake_id).filter(
                Q(status=AlertIntakeStatus.QUEUED) | (dead_claims(now) & Q(attempts__lt=MAX_ATTEMPTS))
            )
        ids = list(rows.values_list("pk", flat=True)[:limit])
        if not ids:
            return []
        AlertIntake.objects.filter(pk__in=ids).update(
            status=AlertIntakeStatus.PROCESSING, claimed_at=now, claimed_by=token,
            lease_until=now + _lease(), attempts=F("attempts") + 1,
        )
        intakes = list(
            AlertIntake.objects.filter(pk__in=ids).select_related("integration__service").order_by("received_at", "id")
        )
        first = [intake for intake in intakes if intake.attempts == 1]
        for integration_id, count in Counter(intake.integration_id for intake in first).items():
            latest = max(intake.received_at for intake in first if intake.integration_id == integration_id)
            Integration.objects.filter(pk=integration_id).update(
                received_count=F("received_count") + count,
                last_received_at=Greatest(Coalesce(F("last_received_at"), latest), latest),
            )
    return intakes


def _claim_token() -> str:
    """Who holds a claim (host and process) and which claim it is (a nonce: a claim taken over
    from a worker that was only slow is not the slow worker's any more)."""
    return f"{socket.gethostname()[:120]}:{os.getpid()}:{secrets.token_hex(4)}"


def _lease() -> timedelta:
    return timedelta(seconds=settings.ALERT_INTAKE_LEASE_SECONDS)


def dead_claims(now: datetime) -> Q:
    """PROCESSING rows whose lease ran out (their worker died, or lost the database)."""
    return Q(status=AlertIntakeStatus.PROCESSING) & (
        Q(lease_until__lt=now) | Q(lease_until__isnull=True, claimed_at__lt=now - STALE_CLAIM_AFTER)
    )


def alert_intake_claim(*, intake_id: int, now: datetime | None = None) -> bool:
    """Take one row for processing; False when another worker has it or it is done."""
    return bool(alert_intakes_claim(limit=1, intake_id=intake_id, now=now))


