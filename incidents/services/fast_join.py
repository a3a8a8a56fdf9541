"""PostgreSQL fast path for a new alert that joins an open incident: one read, one write, no ORM.

In an alert storm most new alerts join an incident that is already open (same fingerprint as
an earlier alert, a label rule's key, the same service, or a service in its dependency graph).
The general path (`correlation.alert_place`) spends about fifteen ORM statements and a held
row lock on that; here one prepared statement reads every fact the decision needs (the
service and its settings, the fingerprint's last alert and its incident, label rules, active
silences, the recent open incidents of the service and its dependencies; a matching label rule
costs one more), and one prepared statement writes the alert, its timeline row and the
incident's new counters and severity inputs together. The SQL reads facts only: the decision
is `placement.placement_decide`, the same function the general path calls.

The write is optimistic: it applies only if the incident row is still the version that was
read (`xmin`), so a concurrent join, override or status change makes it write nothing and the
caller reads again. What this path does not handle (a silence, persistence, flapping, a
reopen, a new incident, a severity upgrade, an active classifier) goes to the general path.
"""
from __future__ import annotations

import re
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
import psycopg
from django.db import DEFAULT_DB_ALIAS, connection, connections, transaction
from psycopg.types.json import Jsonb

from incidents.choices import OPEN_INCIDENT_STATUSES
from incidents.models import Alert, ServiceIncidentSettings, TimelineEvent

from .placement import DEPENDENCY_DEPTH, NEARBY_LIMIT

_DEFAULTS = ServiceIncidentSettings()
_OPEN = [str(s) for s in OPEN_INCIDENT_STATUSES]
_INCIDENT_COLUMNS = ("id", "status", "service_id", "opened_at", "last_alert_at", "last_received_at", "resolved_at",
                     "alert_count", "severity", "severity_source", "severity_reasons", "severity_features",
                     "grouping_key")


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentState:
    """An incident as read, with its row version (`xmin`) for the optimistic write."""

    id: int
    status: str
    service_id: int
    opened_at: datetime
    last_alert_at: datetime
    last_received_at: datetime
    resolved_at: datetime | None
    alert_count: int
    severity: int
    severity_source: str
    severity_reasons: list[str]
    severity_features: dict[str, Any]
    grouping_key: str
    version: str
    service_name: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class PlacementRead:
    service_id: int | None  # None: no service of that name
    service_name: str
    tier: int
    team_id: int | None
    settings: ServiceIncidentSettings
    prior_status: str | None  # of the fingerprint's last alert (the caller found none firing)
    prior_resolved_at: datetime | None
    prior_incident: IncidentState | None  # that alert's incident
    # Open incidents of the service and its dependency neighbourhood received within the service's
    # window: the `NEARBY_LIMIT` most recent (`placement.FactReader.nearby`).
    nearby: list[IncidentState]
    rules: list[tuple[int, str, list[str], int]]  # enabled rules that apply, in order: id, name, labels, window
    silences: list[tuple[int, list[dict[str, str]]]]  # active silences: id, matchers
    alert_id: int  # reserved for the new alert


def _incident_select(alias: str) -> str:
    return ", ".join(f"{alias}.{c}" for c in _INCIDENT_COLUMNS) + f", {alias}.xmin::text"


_DEPENDS_ON = "core_service_depends_on"


def _neighbourhood_sql(depth: int) -> str:
    """CTEs ending in `nearby`: `svc` and its neighbourhood, walked as `placement.neighbourhood` walks it.

    Upstream: `depth` hops along depends_on. Downstream: `depth` hops against it, not through
    the service itself or what is already upstream (the last hop expands nothing, so it need not
    filter). tests/integration/test_placement_property.py compares the two on random graphs.
    """
    ctes = [f"up1 AS (SELECT d.to_service_id AS id FROM {_DEPENDS_ON} d JOIN svc ON d.from_service_id = svc.id)"]
    ctes += [f"up{k} AS (SELECT d.to_service_id AS id FROM {_DEPENDS_ON} d "
             f"WHERE d.from_service_id IN (SELECT id FROM up{k - 1}))" for k in range(2, depth + 1)]
    ctes.append("up AS (" + " UNION ".join(f"SELECT id FROM up{k}" for k in range(1, depth + 1)) + ")")
    for k in range(1, depth + 1):
        source = "d.to_service_id = svc.id" if k == 1 else f"d.to_service_id IN (SELECT id FROM down{k - 1})"
        walk = " AND d.from_service_id <> svc.id AND d.from_service_id NOT IN (SELECT id FROM up)" if k < depth else ""
        ctes.append(f"down{k} AS (SELECT d.from_service_id AS id FROM {_DEPENDS_ON} d, svc WHERE {source}{walk})")
    ctes.append("nearby AS (SELECT id FROM svc UNION SELECT id FROM up"
                + "".join(f" UNION SELECT id FROM down{k}" for k in range(1, depth + 1)) + ")")
    return ",\n".join(ctes)


# Windows are measured on arrival (`arrived`, our clock), as in `placement.placement_decide`.
_NEARBY_COLUMNS = ", ".join(f"r.{c}" for c in _INCIDENT_COLUMNS)
_READ_SQL = f"""
WITH svc AS (
    SELECT s.id, s.name, s.tier, s.team_id, st.min_persistence_seconds, st.min_repeat_count,
           st.flap_threshold, st.flap_window_minutes, st.correlation_window_minutes, st.auto_resolve,
           st.reopen_window_minutes,
           make_interval(mins => COALESCE(st.correlation_window_minutes, %(window)s)) AS win
    FROM core_service s LEFT JOIN incidents_serviceincidentsettings st ON st.service_id = s.id
    WHERE s.name = %(service)s
), prior AS (
    SELECT a.status, a.resolved_at, a.incident_id FROM incidents_alert a
    WHERE a.fingerprint = %(fingerprint)s ORDER BY a.last_seen DESC, a.id DESC LIMIT 1
),
{_neighbourhood_sql(DEPENDENCY_DEPTH)},
recent AS (
    SELECT i.*, i.xmin AS version FROM incidents_incident i, svc
    WHERE i.status = ANY(%(open)s) AND i.service_id IN (SELECT id FROM nearby)
      AND i.last_received_at >= %(arrived)s - svc.win
    ORDER BY i.last_received_at DESC, i.id DESC LIMIT %(limit)s
)
SELECT svc.id, svc.name, svc.tier, svc.team_id, svc.min_persistence_seconds, svc.min_repeat_count,
       svc.flap_threshold, svc.flap_window_minutes, svc.correlation_window_minutes, svc.auto_resolve,
       svc.reopen_window_minutes,
       prior.status, prior.resolved_at,
       {_incident_select("fi")},
       (SELECT json_agg(json_build_array({_NEARBY_COLUMNS}, r.version::text, ns.name))
        FROM recent r JOIN core_service ns ON ns.id = r.service_id),
       (SELECT json_agg(json_build_array(r.id, r.name, r.labels, r.window_minutes) ORDER BY r.priority, r.name, r.id)
        FROM incidents_groupingrule r, svc WHERE r.enabled AND (r.service_id IS NULL OR r.service_id = svc.id)),
       (SELECT json_agg(json_build_array(s.id, s.matchers)) FROM incidents_silence s
        WHERE s.starts_at <= %(now)s AND s.ends_at > %(now)s AND s.expired_early_at IS NULL),
       nextval(pg_get_serial_sequence('incidents_alert', 'id'))
FROM (SELECT 1) AS one
LEFT JOIN svc ON true
LEFT JOIN prior ON true
LEFT JOIN incidents_incident fi ON fi.id = prior.incident_id
"""

_SETTINGS_FIELDS = ("min_persistence_seconds", "min_repeat_count", "flap_threshold", "flap_window_minutes",
                    "correlation_window_minutes", "auto_resolve", "reopen_window_minutes")
_TIME_COLUMNS = ("opened_at", "last_alert_at", "last_received_at", "resolved_at")


def _json(value: Any) -> Any:
    # Django's connection leaves JSON as text for JSONField to decode; plain psycopg decodes it.
    return orjson.loads(value) if isinstance(value, str) else value


def _incident(values: Sequence[Any], service_name: str = "") -> IncidentState | None:
    if values[0] is None:
        return None
    state = dict(zip(_INCIDENT_COLUMNS, values[:-1], strict=True))
    state["severity_reasons"] = _json(state["severity_reasons"])
    state["severity_features"] = _json(state["severity_features"])
    return IncidentState(**state, version=values[-1], service_name=service_name)


def _incident_from_json(values: list[Any]) -> IncidentState:
    """One `recent` row as json_build_array gives it: times are ISO strings there."""
    state = dict(zip(_INCIDENT_COLUMNS, values[:-2], strict=True))
    for column in _TIME_COLUMNS:
        if state[column] is not None:
            state[column] = datetime.fromisoformat(state[column])
    return IncidentState(**state, version=values[-2], service_name=values[-1])


def placement_read(*, service: str, fingerprint: str, arrived: datetime, now: datetime) -> PlacementRead:
    """Everything the placement of a new alert arriving at `arrived` depends on, in one statement."""
    n = len(_INCIDENT_COLUMNS) + 1
    row = fetch_one(_READ_SQL, {
        "service": service, "fingerprint": fingerprint, "arrived": arrived, "now": now, "open": _OPEN,
        "window": _DEFAULTS.correlation_window_minutes, "limit": NEARBY_LIMIT,
    })
    assert row is not None  # one row whatever matches (every join is an outer join on `one`)
    svc, prior, rest = row[:11], row[11:13], row[13:]
    fi, (nearby, rules, silences, alert_id) = rest[:n], rest[n:]
    settings = _DEFAULTS
    if svc[4] is not None:
        settings = ServiceIncidentSettings(service_id=svc[0], **dict(zip(_SETTINGS_FIELDS, svc[4:11], strict=True)))
    return PlacementRead(
        service_id=svc[0], service_name=svc[1] or "", tier=svc[2] or 0, team_id=svc[3], settings=settings,
        prior_status=prior[0], prior_resolved_at=prior[1], prior_incident=_incident(fi),
        nearby=[_incident_from_json(values) for values in _json(nearby) or ()],
        rules=[(r[0], r[1], list(r[2]), r[3]) for r in _json(rules) or ()],
        silences=[(s[0], s[1]) for s in _json(silences) or ()],
        alert_id=alert_id,
    )


_KEYED_SQL = (f"SELECT {_incident_select('i')} FROM incidents_incident i "
               "WHERE i.grouping_key = %s AND i.status = ANY(%s)")


def incident_by_key(key: str) -> IncidentState | None:
    """The open incident holding a grouping key (a label rule's), if any."""
    row = fetch_one(_KEYED_SQL, (key, _OPEN))
    return _incident(row) if row is not None else None


def _insert_sql(model, source: str, *, with_pk: bool) -> tuple[str, list]:
    """INSERT INTO <model> (<every column>) SELECT <typed placeholders> FROM <source>."""
    fields = [f for f in model._meta.concrete_fields if with_pk or not f.primary_key]
    types = [re.sub(r"\(.*\)", "", f.db_type(connection)) for f in fields]  # varchar(n) -> varchar: no truncation
    columns = ", ".join(connection.ops.quote_name(f.column) for f in fields)
    values = ", ".join(f"%s::{t}" for t in types)
    return f"INSERT INTO {model._meta.db_table} ({columns}) SELECT {values} FROM {source}", fields


def _row(obj, fields, db) -> list:
    return [f.get_db_prep_save(getattr(obj, f.attname), db) for f in fields]


_write_sql: dict[bool, tuple[str, list, list]] = {}


def _join_sql(relaxed: bool) -> tuple[str, list, list]:
    if relaxed not in _write_sql:
        alert_insert, alert_fields = _insert_sql(Alert, "inc", with_pk=True)
        event_insert, event_fields = _insert_sql(TimelineEvent, "inc", with_pk=False)
        async_commit = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit " if relaxed else ""
        sql = (
            "WITH inc AS (UPDATE incidents_incident SET alert_count = alert_count + 1, "
            "last_alert_at = GREATEST(last_alert_at, %s), last_received_at = GREATEST(last_received_at, %s), "
            "severity_features = %s, rules_severity = %s, "
            "severity_reasons = CASE WHEN %s THEN %s ELSE severity_reasons END "
            f"{async_commit}"
            "WHERE id = %s AND xmin = %s::text::xid AND status = ANY(%s) RETURNING id), "
            f"alert AS ({alert_insert} RETURNING id), "
            f"event AS ({event_insert}) "
            "SELECT id FROM alert"
        )
        _write_sql[relaxed] = (sql, alert_fields, event_fields)
    return _write_sql[relaxed]


def join_write(*, incident: IncidentState, alert: Alert, event: TimelineEvent, features: dict[str, Any],
               rules_severity: int, reasons: list[str] | None, arrived: datetime) -> bool:
    """Insert the alert and its timeline row and count it on the incident, if the incident is unchanged.

    `reasons` replaces the incident's reasons (None keeps them: a person set the level). False when
    the incident changed since it was read or the fingerprint started firing meanwhile.
    """
    db = connections[DEFAULT_DB_ALIAS]  # the thread's connection, looked up once
    own = not db.in_atomic_block  # never relax a caller's transaction
    sql, alert_fields, event_fields = _join_sql(own)
    params = [alert.last_seen, arrived, Jsonb(features), rules_severity, reasons is not None, Jsonb(reasons or []),
              incident.id, incident.version, _OPEN, *_row(alert, alert_fields, db), *_row(event, event_fields, db)]
    try:
        if own:
            return fetch_one(sql, params) is not None
        with transaction.atomic():  # a savepoint: a lost race must not abort the caller's transaction
            return fetch_one(sql, params) is not None
    except psycopg.errors.UniqueViolation:
        return False  # another worker stored a firing alert with this fingerprint first


def fetch_one(sql: str, params) -> tuple | None:
    """Run one statement on the request's connection, prepared (server-side binding)."""
    cursor = _cursor()
    cursor.execute(sql, params, prepare=True)
    return cursor.fetchone()


def fetch_all(sql: str, params) -> list[tuple]:
    """Run one statement whose text varies (not worth preparing); all its rows."""
    cursor = _cursor()
    cursor.execute(sql, params)
    return cursor.fetchall()


# Django turns psycopg's statement preparation off (prepare_threshold=None); its own cursors bind
# client-side and never prepare anyway. This many executions would make psycopg prepare a
# server-binding statement by itself: never; only the statements here, which ask for it.
_PREPARE_ONLY_WHEN_ASKED = 2**31 - 1
# One server-binding cursor per connection (a connection belongs to one thread), reused: the
# hot path runs a statement per signal and need not build a cursor for each.
_cursors: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _cursor() -> psycopg.Cursor:
    db = connections[DEFAULT_DB_ALIAS]
    conn = db.connection
    if conn is None or conn.closed:
        db.ensure_connection()
        conn = db.connection
    cursor = _cursors.get(conn)
    if cursor is None:
        # Prepared once per connection, a statement is neither re-parsed nor re-planned per signal.
        conn.prepare_threshold = _PREPARE_ONLY_WHEN_ASKED
        cursor = _cursors[conn] = psycopg.Cursor(conn)
    return cursor
