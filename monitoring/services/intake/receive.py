"""The request path of alert intake: validate, store the raw body once (idempotently), ask for a drain.

The request path validates fully (the format's parser), stores the raw body in an `AlertIntake`
row with one autocommitted INSERT, and only then answers 2xx; a sender's retry of the same
notification finds the row already stored and is answered without storing anything twice.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from rest_framework.exceptions import AuthenticationFailed

from core.authentication import authenticate_integration_token, integration_cache_forget
from core.db import is_postgres
from core.drain import partition_of
from core.models import Integration
from monitoring.choices import AlertIntakeKind, AlertIntakeStatus
from monitoring.formats import IntakeInvalid, decode_body, get_parser
from monitoring.formats.base import ParsedIntake
from monitoring.formats.grafana import verify_signature
from monitoring.models import AlertIntake

from .drain import alert_intakes_kick
from .priority import alert_intake_priority_kick, is_priority
from .receipts import duplicate_count

# Retries of one notification arrive within minutes (Alertmanager retries until the next
# group_interval, 5 min by default; PagerDuty clients back off for seconds to minutes). A
# request identical to one stored in the current or previous window is a retry; later it is a
# real re-notification (Alertmanager's repeat_interval), which the incident core counts.
IDEMPOTENCY_WINDOW_SECONDS = 600


@dataclass(frozen=True, slots=True, kw_only=True)
class IntakeReceipt:
    intake_id: int
    event_count: int
    duplicate: bool  # a retry of a request stored earlier: nothing new was stored
    dedup_key: str = ""


def idempotency_keys(*, content_key: str, received_at: datetime) -> tuple[str, str]:
    """Keys of the current and the previous window for `content_key`."""
    window = int(received_at.timestamp()) // IDEMPOTENCY_WINDOW_SECONDS
    return f"{content_key[:48]}:{window:015d}", f"{content_key[:48]}:{window - 1:015d}"


def alert_intake_receive(
    *,
    integration: Integration,
    kind: str,
    raw: bytes,
    headers: Mapping[str, str] | None = None,
    data: dict[str, Any] | None = None,
    now: datetime | None = None,
) -> IntakeReceipt:
    """Validate and durably store one agent request; ask for a drain once committed.

    The request was counted against the integration's rate limit by the API's throttle
    (core.api.throttles), the one rate-limit layer. Raises SignatureInvalid (401) or IntakeInvalid
    (400) with nothing stored.
    """
    now = now or timezone.now()
    if kind == AlertIntakeKind.GRAFANA and integration.secret:
        verify_signature(secret=integration.secret, body=raw, headers=headers or {}, now=now.timestamp())
    if data is None:
        data = decode_body(raw)
    parsed = get_parser(kind).parse(data=data, integration=integration, received_at=now)
    current, previous = idempotency_keys(content_key=parsed.content_key, received_at=now)
    receipt = _store(integration=integration, kind=kind, raw=raw, parsed=parsed, keys=(current, previous), now=now)
    if receipt.duplicate:
        duplicate_count(integration_id=integration.pk)
    return receipt


_INSERT_SQL = (
    f"INSERT INTO {AlertIntake._meta.db_table} (integration_id, kind, body, idempotency_key, dedup_key, "
    "event_count, status, received_at, partition, attempts, error, outcomes) "
    "SELECT %s, %s, %s, %s, %s, %s, %s, %s, %s, 0, '', '[]' "
    f"WHERE NOT EXISTS (SELECT 1 FROM {AlertIntake._meta.db_table} WHERE integration_id = %s AND idempotency_key = %s) "
    "ON CONFLICT (integration_id, idempotency_key) DO NOTHING RETURNING id"
)


def _store(*, integration: Integration, kind: str, raw: bytes, parsed: ParsedIntake, keys: tuple[str, str],
           now: datetime) -> IntakeReceipt:
    """Insert the row unless this window or the previous one holds it: one statement, one commit.

    The commit (a WAL flush) is the price of "stored before answered". The statement runs in
    autocommit (no BEGIN/COMMIT round trips) and does the duplicate check itself; the unique
    constraint settles two copies racing in the same window.
    """
    current, previous = keys
    partition = partition_of(integration.pk)
    params = [
        integration.pk, kind, raw.decode("utf-8"), current, parsed.dedup_key, len(parsed.signals),
        AlertIntakeStatus.QUEUED, connection.ops.adapt_datetimefield_value(now), partition, integration.pk, previous,
    ]
    try:
        with connection.wrap_database_errors:
            row = _execute_one(_INSERT_SQL, params)
    except IntegrityError:
        # The integration was deleted while this process still had its token cached.
        integration_cache_forget(token_hash=integration.token_hash)
        raise AuthenticationFailed("Integration token has been revoked.") from None
    if row is not None:
        intake_id = row[0]
        # At once in autocommit; after the caller's commit otherwise.
        transaction.on_commit(lambda: alert_intakes_kick(partition=partition))
        if is_priority(parsed):  # a likely page: processed at once, not behind a storm (priority.py)
            transaction.on_commit(lambda: alert_intake_priority_kick(intake_id=intake_id,
                                                                     integration_id=integration.pk))
        return IntakeReceipt(intake_id=intake_id, event_count=len(parsed.signals), duplicate=False,
                             dedup_key=parsed.dedup_key)
    existing = (
        AlertIntake.objects.filter(integration=integration, idempotency_key__in=keys)
        .values_list("pk", "event_count", "dedup_key").first()
    )
    if existing is None:  # the holder was deleted between the two statements: store this one
        return _store(integration=integration, kind=kind, raw=raw, parsed=parsed, keys=keys, now=now)
    pk, count, dedup_key = existing
    return IntakeReceipt(intake_id=pk, event_count=count, duplicate=True, dedup_key=dedup_key or parsed.dedup_key)


_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1


def _execute_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    if is_postgres():
        connection.ensure_connection()
        conn = connection.connection
        if conn.prepare_threshold is None:
            # Django turns preparation off (None), which also ignores prepare=True. A threshold no
            # statement reaches keeps Django's statements unprepared and lets this one ask.
            conn.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        # Server-side binding: the body travels as a parameter (no quoting into the SQL text), and
        # the statement is parsed and planned once per connection.
        with psycopg.Cursor(conn) as cursor:
            cursor.execute(sql, params, prepare=True)
            return cursor.fetchone()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def pagerduty_event_receive(*, raw: bytes, now: datetime | None = None) -> IntakeReceipt:
    """A PagerDuty Events v2 request: the integration is the body's `routing_key`."""
    data = decode_body(raw)
    integration = pagerduty_routing_integration(data=data)
    return alert_intake_receive(
        integration=integration, kind=AlertIntakeKind.PAGERDUTY, raw=raw, data=data, now=now
    )


def pagerduty_routing_integration(*, data: Mapping[str, Any]) -> Integration:
    """The pagerduty integration a PagerDuty event names by its `routing_key` (its token)."""
    routing_key = data.get("routing_key")
    if routing_key is None or routing_key == "":
        raise IntakeInvalid(["routing_key is missing"])
    if not isinstance(routing_key, str):
        raise IntakeInvalid(["routing_key must be a string"])
    integration = authenticate_integration_token(routing_key)
    if integration.kind != AlertIntakeKind.PAGERDUTY:
        raise AuthenticationFailed(
            f"routing_key belongs to a {integration.kind} integration; create a pagerduty one."
        )
    return integration

