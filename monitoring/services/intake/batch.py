"""Processing claimed intake rows: a batch's signals and its rows' PROCESSED mark commit together.

The rows are re-parsed from the same bytes the request path validated, and the batch's signals go
to the incident core in one call. The transaction first locks the rows still claimed by this
claim, so a worker that dies or loses the database mid-batch leaves nothing applied, and its rows
are taken over and processed once.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import orjson
import psycopg
from django.db import InterfaceError, OperationalError, transaction
from django.utils import timezone

from core.db import rows_update
from core.exceptions import InvalidInput
from incidents import services as incident_services
from incidents.contracts import SignalIn
from monitoring.choices import AlertIntakeStatus
from monitoring.formats import get_parser
from monitoring.models import AlertIntake

from .claims import MAX_ATTEMPTS, alert_intakes_claim

logger = logging.getLogger(__name__)

# A batch that lost a lock conflict (deadlock with another drain) is run again at once this often
# before its rows go back to the queue: the conflict is between two live workers, not an outage.
LOCK_CONFLICT_ATTEMPTS = 3


@dataclass(frozen=True, slots=True, kw_only=True)
class DrainResult:
    claimed: int = 0  # rows taken from the queue
    processed: int = 0
    failed: int = 0
    events: int = 0  # signals handed to the incident core


def alert_intakes_process_batch(*, intakes: list[AlertIntake]) -> DrainResult:
    """Turn claimed rows into signals for the incident core: one core call for the whole batch.

    A row that no longer parses, or whose signals the core refuses (e.g. its service was deleted
    since), is marked FAILED with the reason; the others are processed. Database trouble puts
    every row of the batch back in the queue (FAILED after MAX_ATTEMPTS claims) and propagates.

    Exactly once: the signals and the rows' PROCESSED mark commit in one transaction, which first
    locks the rows still claimed by this claim (the lock keeps the sweep off them however long the
    batch takes). A worker that dies or loses the database mid-batch leaves nothing of it applied,
    so taking its rows over never counts a repeat twice; it also costs one commit per batch
    instead of one per new alert.
    """
    errors: dict[int, str] = {}
    parsed: list[tuple[AlertIntake, list[SignalIn]]] = []
    answers: dict[str, bool] = {}  # service names asked of the database for this batch
    for intake in intakes:
        try:
            data = orjson.loads(intake.body)
            signals = get_parser(intake.kind).parse(
                data=data, integration=intake.integration, received_at=intake.received_at, answers=answers
            ).signals
        except (InvalidInput, orjson.JSONDecodeError) as exc:
            errors[intake.pk] = str(exc)
            continue
        parsed.append((intake, list(signals)))
    for attempt in range(LOCK_CONFLICT_ATTEMPTS):
        outcomes: dict[int, list[dict[str, Any]]] = {}
        failed = dict(errors)
        try:
            with transaction.atomic():
                held = _hold(intakes)
                mine = [(intake, signals) for intake, signals in parsed if intake.pk in held]
                failed = {pk: error for pk, error in failed.items() if pk in held}
                _ingest(mine, outcomes=outcomes, errors=failed)
                _finish(intakes=[intake for intake in intakes if intake.pk in held],
                        outcomes=outcomes, errors=failed)
        except TRANSIENT_DB_ERRORS as exc:
            if _lock_conflict(exc) and attempt < LOCK_CONFLICT_ATTEMPTS - 1:
                continue  # rolled back whole: run the batch again while the claim is ours
            # Rolled back whole (or the connection is gone and the server rolls it back).
            _release(intakes=intakes, error=f"{type(exc).__name__}: {exc}")
            raise
        break
    return DrainResult(
        claimed=len(intakes), processed=len(outcomes), failed=len(failed),
        events=sum(len(signals) for intake, signals in parsed if intake.pk in outcomes),
    )


def _hold(intakes: list[AlertIntake]) -> set[int]:
    """Lock the rows this claim still holds (a row taken over after our lease ran out is not)."""
    if not intakes:
        return set()
    return set(
        AlertIntake.objects.select_for_update()
        .filter(pk__in=[intake.pk for intake in intakes], status=AlertIntakeStatus.PROCESSING,
                claimed_by__in={intake.claimed_by for intake in intakes})
        .values_list("pk", flat=True)
    )


def _lock_conflict(exc: BaseException) -> bool:
    cause = exc if isinstance(exc, psycopg.Error) else exc.__cause__
    return isinstance(cause, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure))


# Database trouble worth another try (a restart, a deadlock victim); the core runs some statements
# on psycopg cursors directly, so psycopg's own classes too.
TRANSIENT_DB_ERRORS = (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError)


def _ingest(parsed: list[tuple[AlertIntake, list[SignalIn]]], *, outcomes: dict[int, list[dict[str, Any]]],
            errors: dict[int, str]) -> None:
    """All rows' signals in one core call; if the core refuses it, row by row to find the culprit.

    Each call runs in a savepoint: what a refused call had stored is undone before the rows are
    tried one by one, so nothing is counted twice.
    """
    if not parsed:
        return
    try:
        with transaction.atomic():
            results = incident_services.signals_ingest(signals=[s for _, signals in parsed for s in signals])
    except TRANSIENT_DB_ERRORS:
        raise
    except Exception as exc:
        if len(parsed) > 1:
            for row in parsed:
                _ingest([row], outcomes=outcomes, errors=errors)
            return
        intake = parsed[0][0]
        if not isinstance(exc, InvalidInput):  # a bug, not bad data: keep the traceback
            logger.exception("alert intake %s failed", intake.pk)
        errors[intake.pk] = str(exc) if isinstance(exc, InvalidInput) else f"{type(exc).__name__}: {exc}"
        return
    at = 0
    for intake, signals in parsed:
        outcomes[intake.pk] = [
            {"alert_id": r.alert_id, "incident_id": r.incident_id, "outcome": r.outcome}
            for r in results[at:at + len(signals)]
        ]
        at += len(signals)


_FINISH_TYPES = {"id": "bigint", "status": "text", "outcomes": "jsonb", "error": "text", "at": "timestamptz"}


def _finish(*, intakes: list[AlertIntake], outcomes: dict[int, list[dict[str, Any]]], errors: dict[int, str]) -> None:
    """Record each finished row's status, outcomes and error: one statement for the batch."""
    now = timezone.now()
    done: list[dict[str, Any]] = []
    for intake in intakes:
        if intake.pk in outcomes:
            status, result, error = AlertIntakeStatus.PROCESSED, outcomes[intake.pk], ""
        elif intake.pk in errors:
            status, result, error = AlertIntakeStatus.FAILED, intake.outcomes, errors[intake.pk][:2000]
        else:
            continue
        done.append({"id": intake.pk, "status": status, "outcomes": orjson.dumps(result).decode(), "error": error,
                     "at": now})
    rows_update(table=AlertIntake._meta.db_table, rows=done, types=_FINISH_TYPES,
                assignments="status = :status, outcomes = :outcomes, error = :error, processed_at = :at")


def _release(*, intakes: list[AlertIntake], error: str) -> None:
    """Put claimed rows back in the queue after database trouble; FAILED once out of attempts."""
    if not intakes:
        return
    ids = [intake.pk for intake in intakes]
    rows = AlertIntake.objects.filter(pk__in=ids, status=AlertIntakeStatus.PROCESSING,
                                      claimed_by__in={intake.claimed_by for intake in intakes})
    try:
        rows.filter(attempts__gte=MAX_ATTEMPTS).update(
            status=AlertIntakeStatus.FAILED, processed_at=timezone.now(), error=error[:2000]
        )
        rows.update(status=AlertIntakeStatus.QUEUED, claimed_at=None, claimed_by="", lease_until=None,
                    error=error[:2000])
    except TRANSIENT_DB_ERRORS:  # the database is away: the leases run out and the sweep re-queues them
        logger.warning("could not release claimed alert intake rows %s", ids, exc_info=True)


def alert_intake_process(*, intake_id: int) -> AlertIntake | None:
    """Claim and process one row (the per-row task; the admin's replays use the drain).

    Returns None when the row was not claimable (a redelivered message for finished work).
    """
    intakes = alert_intakes_claim(limit=1, intake_id=intake_id)
    if not intakes:
        return None
    alert_intakes_process_batch(intakes=intakes)
    return AlertIntake.objects.get(pk=intake_id)


def alert_intake_fail(*, intake_id: int, error: str) -> None:
    AlertIntake.objects.filter(pk=intake_id).exclude(status=AlertIntakeStatus.PROCESSED).update(
        status=AlertIntakeStatus.FAILED, processed_at=timezone.now(), error=error[:2000]
    )


