"""Signal intake: store each signal as an alert (dedup, flapping, persistence, silences), then correlate."""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import psycopg
from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from core.models import Service
from incidents import events
from incidents.choices import AlertHold, AlertStatus, IncidentStatus, SeveritySource
from incidents.contracts import InvalidSignal, SignalIn, SignalResult, signal_normalise
from incidents.models import Alert, Incident, ServiceIncidentSettings, Silence

from . import correlation, fast_join
from .classifier import classifier_active
from .commit import commit_relaxed
from .correlation import PlacementRace, alert_place
from .lifecycle import incident_acknowledge, incident_resolve
from .severity import SeverityFeatures, features_for_alert, features_merge, severity_reassess
from .silences import alert_match_labels, silence_find

# Two racing workers settle in one retry; a third attempt covers a key retired meanwhile.
MAX_ATTEMPTS = 4
# Optimistic joins that lost to a concurrent change of the incident; then the general path locks it.
FAST_JOIN_ATTEMPTS = 3
FLIPS_KEPT = 20  # more than any sensible flap threshold; keeps the JSON small
_DEFAULTS = ServiceIncidentSettings()  # a service without a settings row behaves like this


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceContext:
    id: int
    name: str
    tier: int
    team_id: int | None
    settings: ServiceIncidentSettings


def signal_ingest(*, signal: SignalIn) -> SignalResult:
    """Store one signal atomically and say what became of it; raises InvalidSignal (400)."""
    return _ingest_clean(signal_normalise(signal))


def _ingest_clean(clean: SignalIn, *, unbumped: bool = False) -> SignalResult:
    """`unbumped`: the caller just found no unheld firing alert with this fingerprint to count."""
    firing_pg = clean.status == "firing" and connection.vendor == "postgresql"
    bumped = _bump_fast(clean) if firing_pg and not unbumped else None
    if bumped is not None and bumped[2] in (AlertHold.NONE, AlertHold.FLAPPING):
        return _repeat(clean, bumped, at=clean.occurred_at)  # type: ignore[arg-type]
    if firing_pg and bumped is None:
        joined = _join_fast(clean)
        if joined is not None:
            return joined
    # The fast path already looked for a firing alert; the first attempt need not look again.
    skip_bump = firing_pg and bumped is None and not unbumped
    own_transaction = not connection.in_atomic_block  # never relax a caller's transaction
    for attempt in range(MAX_ATTEMPTS):
        try:
            with transaction.atomic():
                if own_transaction:
                    commit_relaxed()
                return _ingest(clean, bumped=bumped, skip_bump=skip_bump and attempt == 0)
        except (IntegrityError, PlacementRace):
            # Another worker inserted the same alert or opened the same incident first; its row
            # is committed now, so the next attempt deduplicates or joins it.
            if attempt == MAX_ATTEMPTS - 1:
                raise
    raise AssertionError("unreachable")


def signals_ingest(*, signals: Sequence[SignalIn]) -> list[SignalResult]:
    """Validate every signal first (nothing stored if one is bad), then ingest each atomically.

    Repeats of already-firing alerts in the batch are counted together in one statement
    (PostgreSQL): an alert storm is mostly repeats, and a batch (a webhook, a queue drain)
    holds many of them. Everything else goes through `signal_ingest` one by one, in order;
    the first signal of a fault that statement found not firing skips looking for it again.
    """
    clean = []
    for index, signal in enumerate(signals):
        try:
            clean.append(signal_normalise(signal))
        except InvalidSignal as exc:
            raise InvalidSignal(f"Signal {index}: {exc.message}", field=exc.field) from exc
    known = set(Service.objects.filter(name__in={s.service for s in clean}).values_list("name", flat=True))
    for index, signal in enumerate(clean):
        if signal.service not in known:
            raise InvalidSignal(f"Signal {index}: No service named {signal.service!r}.", field="service")
    results: list[SignalResult | None] = [None] * len(clean)
    bumped, unbumped = _bump_batch(clean)
    for index, result in bumped.items():
        results[index] = result
    for index, signal in enumerate(clean):
        if results[index] is None:
            results[index] = _ingest_clean(signal, unbumped=signal.fingerprint in unbumped)
            unbumped.discard(signal.fingerprint)  # it may fire now: its next signal is a repeat
    return results  # type: ignore[return-value]


def _bump_batch(signals: list[SignalIn]) -> tuple[dict[int, SignalResult], set[str]]:
    """Count repeats of firing, unheld alerts for a whole batch at once.

    Returns {index: result} for those, and the fingerprints it looked for and did not count.
    """
    if connection.vendor != "postgresql" or len(signals) < 2:
        return {}, set()
    # A fingerprint that also resolves or acknowledges in this batch keeps its order: no shortcut.
    ordered = {s.fingerprint for s in signals if s.status != "firing"}
    groups: dict[str, list[int]] = {}
    for index, signal in enumerate(signals):
        if signal.status == "firing" and signal.fingerprint not in ordered:
            groups.setdefault(signal.fingerprint, []).append(index)
    if not groups:
        return {}, set()
    own = not connection.in_atomic_block  # never relax a caller's transaction
    rows = [(fp, len(ix), max(signals[i].occurred_at for i in ix)) for fp, ix in groups.items()]
    values = ", ".join(["(%s, %s::integer, %s::timestamptz)"] * len(rows))  # placeholders only
    params = [value for row in rows for value in row]
    # Rows are locked in id order first: two workers bumping overlapping sets never deadlock.
    sql = (
        "WITH v(fp, n, ts) AS (VALUES " + values + "), "
        "locked AS (SELECT a.id, v.n, v.ts FROM incidents_alert a JOIN v ON a.fingerprint = v.fp "
        "WHERE a.status = 'firing' AND a.hold IN ('', 'flapping') ORDER BY a.id FOR UPDATE OF a) "
        "UPDATE incidents_alert AS a SET count = a.count + locked.n, "
        "last_seen = GREATEST(a.last_seen, locked.ts) "
        "FROM locked" + (", (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
                         if own else " ") +
        "WHERE a.id = locked.id "
        "RETURNING a.fingerprint, a.id, a.incident_id, a.hold"
    )
    try:
        if own:
            found = fast_join.fetch_all(sql, params)
        else:
            with transaction.atomic():  # a savepoint: a deadlock must not abort the caller's transaction
                found = fast_join.fetch_all(sql, params)
    except psycopg.errors.DeadlockDetected:
        return {}, set()  # nothing was applied (one statement); the signals take the one-by-one path
    out: dict[int, SignalResult] = {}
    for fingerprint, alert_id, incident_id, hold in found:
        outcome = "flapping" if hold == AlertHold.FLAPPING else "deduplicated"
        for index in groups.pop(fingerprint):
            out[index] = SignalResult(alert_id=alert_id, incident_id=incident_id, outcome=outcome)
    return out, set(groups)


def _service(name: str) -> ServiceContext:
    service = Service.objects.select_related("incident_settings").filter(name=name).first()
    if service is None:
        raise InvalidSignal(f"No service named {name!r}.", field="service")
    try:
        cfg = service.incident_settings
    except ServiceIncidentSettings.DoesNotExist:
        cfg = _DEFAULTS
    return ServiceContext(id=service.pk, name=service.name, tier=service.tier, team_id=service.team_id, settings=cfg)


def _ingest(signal: SignalIn, *, bumped: tuple | None = None, skip_bump: bool = False) -> SignalResult:
    at: datetime = signal.occurred_at  # type: ignore[assignment]  (normalised: always set)
    if signal.status == "acknowledged":
        return _acknowledge(signal)
    if signal.status == "resolved":
        return _resolve(signal, at=at)
    row = bumped or (None if skip_bump else _bump(signal.fingerprint, at=at))
    if row is not None:
        return _repeat(signal, row, at=at)
    svc = _service(signal.service)
    # The last alert with this fingerprint (no firing one exists): a recent one fires again in
    # place (flap tracking); an older one still tells which incident the fault belonged to.
    prior = Alert.objects.filter(fingerprint=signal.fingerprint).order_by("-last_seen", "-id").first()
    if prior is not None and prior.status == AlertStatus.RESOLVED and prior.resolved_at \
            and at - prior.resolved_at <= _flap_window(svc):
        return _refire(signal, prior, svc, at=at)
    alert = _new_alert(signal, svc, at=at)
    alert.save(force_insert=True)
    return _admit(alert, svc, at=at, prior_incident_id=prior.incident_id if prior is not None else None,
                  arrived=signal.received_at)


def _new_alert(signal: SignalIn, svc: ServiceContext, *, at: datetime, pk: int | None = None) -> Alert:
    alert = Alert(
        pk=pk, fingerprint=signal.fingerprint, source_kind=signal.source_kind, source_name=signal.source_name,
        service_id=svc.id, title=signal.title, description=signal.description, labels=dict(signal.labels),
        severity_hint=signal.severity_hint, first_seen=at, last_seen=at, payload=dict(signal.payload),
        links=list(signal.links), kpis=list(signal.kpis),
    )
    alert.service = Service(pk=svc.id, name=svc.name, tier=svc.tier, team_id=svc.team_id)
    return alert


def _join_fast(signal: SignalIn) -> SignalResult | None:
    """A new alert that joins an open incident, in two statements (PostgreSQL); None: take the general path.

    It decides exactly as `_ingest` → `_admit` → `alert_place` would, and hands every case it
    does not cover (see `fast_join`) back to them.
    """
    at: datetime = signal.occurred_at  # type: ignore[assignment]
    for _ in range(FAST_JOIN_ATTEMPTS):
        now = timezone.now()
        arrived: datetime = signal.received_at  # type: ignore[assignment]  (windows run on arrival)
        read = fast_join.placement_read(service=signal.service, fingerprint=signal.fingerprint, arrived=arrived,
                                        now=now)
        if read.service_id is None or read.prior_status == AlertStatus.FIRING:
            return None  # an unknown service is named there; a firing alert is deduplicated there
        svc = ServiceContext(id=read.service_id, name=read.service_name, tier=read.tier, team_id=read.team_id,
                             settings=read.settings)
        if read.prior_status == AlertStatus.RESOLVED and read.prior_resolved_at \
                and at - read.prior_resolved_at <= _flap_window(svc):
            return None  # fires again in place (flap tracking)
        alert = _new_alert(signal, svc, at=at, pk=read.alert_id)
        if read.silences and silence_find(
            labels=alert_match_labels(labels=alert.labels, service=svc.name, source_kind=alert.source_kind,
                                      source_name=alert.source_name),
            at=now, active=[Silence(pk=pk, matchers=matchers) for pk, matchers in read.silences],
        ) is not None:
            return None
        if not _persisted(alert, svc, at=at):
            return None
        choice = correlation.join_choice(alert=alert, read=read, now=at, arrived=arrived,
                                         keyed=fast_join.incident_by_key)
        if choice is None:
            return None
        incident, rule = choice.incident, choice.rule
        features, assessment = severity_reassess(
            features=features_merge(SeverityFeatures.from_dict(incident.severity_features),
                                    features_for_alert(alert, tier=svc.tier)),
            opened_at=incident.opened_at, now=at,
        )
        if assessment.level < incident.severity or classifier_active():
            return None  # an upgrade is recorded and announced there; so is a classifier's proposal
        alert.incident_id, alert.grouped_by, alert.grouping_rule_id = incident.id, rule, choice.grouping_rule_id
        event = events.alert_joined_event(incident=incident.id, alert=alert, rule=rule, detail=choice.detail)
        if fast_join.join_write(incident=incident, alert=alert, event=event, features=features.as_dict(),
                                rules_severity=assessment.level, arrived=arrived,
                                reasons=assessment.reasons if incident.severity_source == SeveritySource.RULES
                                else None):
            return SignalResult(alert_id=alert.pk, incident_id=incident.id, outcome="joined")
        # The incident changed since it was read (another join, an override, a status change): read again.
    return None


# The hot path of an alert storm is a repeat of a firing alert: one statement, in its own
# transaction, committed without waiting for the WAL flush. A database crash may lose the last
# fraction of a second of repeat *counts*; new alerts and incidents always commit synchronously.
# In a caller's transaction the same statement runs without touching the commit mode.
_BUMP_SQL = (
    "UPDATE incidents_alert SET count = count + 1, last_seen = GREATEST(last_seen, %s) "
    "{async_commit}WHERE fingerprint = %s AND status = 'firing' "
    "RETURNING id, incident_id, hold"
)
_ASYNC_COMMIT = "FROM (SELECT set_config('synchronous_commit', 'off', true)) AS async_commit "
_FAST_BUMP_SQL = {own: _BUMP_SQL.format(async_commit=_ASYNC_COMMIT if own else "") for own in (True, False)}


def _bump_fast(signal: SignalIn) -> tuple | None:
    """Count a repeat in one prepared statement (PostgreSQL); None when no alert with it is firing."""
    return fast_join.fetch_one(_FAST_BUMP_SQL[not connection.in_atomic_block],
                               (signal.occurred_at, signal.fingerprint))


def _bump(fingerprint: str, *, at: datetime) -> tuple | None:
    """The hot path: count a repeat of a firing alert in one statement (UPDATE ... RETURNING)."""
    stamp = connection.ops.adapt_datetimefield_value(at)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE incidents_alert SET count = count + 1, "
            "last_seen = CASE WHEN last_seen < %s THEN %s ELSE last_seen END "
            "WHERE fingerprint = %s AND status = 'firing' "
            "RETURNING id, incident_id, hold",
            [stamp, stamp, fingerprint],
        )
        return cursor.fetchone()


def _as_datetime(value) -> datetime:
    if isinstance(value, datetime):
        return value if timezone.is_aware(value) else timezone.make_aware(value, timezone.utc)
    parsed = parse_datetime(value)
    return parsed if timezone.is_aware(parsed) else timezone.make_aware(parsed, timezone.utc)


def _repeat(signal: SignalIn, row: tuple, *, at: datetime) -> SignalResult:
    alert_id, incident_id, hold = row[0], row[1], row[2]
    if hold == AlertHold.NONE:
        return SignalResult(alert_id=alert_id, incident_id=incident_id, outcome="deduplicated")
    if hold == AlertHold.FLAPPING:
        return SignalResult(alert_id=alert_id, incident_id=incident_id, outcome="flapping")
    alert = Alert.objects.select_for_update().select_related("service").get(pk=alert_id)
    svc = _service(alert.service.name)
    if hold == AlertHold.SILENCED:
        if alert.silence_id and alert.silence and _silence_active(alert.silence, timezone.now()):
            return SignalResult(alert_id=alert_id, incident_id=incident_id, outcome="silenced")
        alert.hold, alert.silence = AlertHold.NONE, None
        alert.save(update_fields=["hold", "silence"])
        return _admit(alert, svc, at=at, check_silence=True, arrived=signal.received_at)
    # Pending: promote once it has persisted long enough or repeated often enough.
    if _persisted(alert, svc, at=at):
        alert.hold = AlertHold.NONE
        alert.save(update_fields=["hold"])
        return _place(alert, svc, at=at, arrived=signal.received_at)
    return SignalResult(alert_id=alert_id, incident_id=None, outcome="pending")


def _silence_active(silence, at: datetime) -> bool:
    return silence.expired_early_at is None and silence.starts_at <= at < silence.ends_at


def _persisted(alert: Alert, svc: ServiceContext, *, at: datetime) -> bool:
    cfg = svc.settings
    if cfg.min_persistence_seconds == 0 and cfg.min_repeat_count <= 1:
        return True
    if cfg.min_repeat_count > 1 and alert.count >= cfg.min_repeat_count:
        return True
    return cfg.min_persistence_seconds > 0 and (at - alert.first_seen).total_seconds() >= cfg.min_persistence_seconds


def _flap_window(svc: ServiceContext) -> timedelta:
    return timedelta(minutes=svc.settings.flap_window_minutes)


def _recent_flips(flips: list[float], *, at: datetime, window: timedelta) -> list[float]:
    horizon = (at - window).timestamp()
    return [t for t in flips if t >= horizon][-FLIPS_KEPT:]


_UNKNOWN = -1  # "the caller did not look up the fingerprint's previous incident"


def _admit(alert: Alert, svc: ServiceContext, *, at: datetime, check_silence: bool = True,
           prior_incident_id: int | None = _UNKNOWN, arrived: datetime | None = None) -> SignalResult:
    """A firing alert that is not flapping: silence, then persistence, then correlation."""
    if check_silence:
        # Silences mute what arrives while they are active (wall clock), whatever time the source stamped.
        silence = silence_find(labels=alert_match_labels(labels=alert.labels, service=svc.name,
                                                         source_kind=alert.source_kind,
                                                         source_name=alert.source_name), at=timezone.now())
        if silence is not None:
            alert.hold, alert.silence = AlertHold.SILENCED, silence
            alert.save(update_fields=["hold", "silence"])
            return SignalResult(alert_id=alert.pk, incident_id=alert.incident_id, outcome="silenced")
    if not _persisted(alert, svc, at=at):
        alert.hold = AlertHold.PENDING
        alert.save(update_fields=["hold"])
        return SignalResult(alert_id=alert.pk, incident_id=None, outcome="pending")
    return _place(alert, svc, at=at, arrived=arrived, prior_incident_id=prior_incident_id)


def _place(alert: Alert, svc: ServiceContext, *, at: datetime, arrived: datetime | None = None,
           prior_incident_id: int | None = _UNKNOWN) -> SignalResult:
    if prior_incident_id == _UNKNOWN:
        prior_incident_id = (Alert.objects.filter(fingerprint=alert.fingerprint, incident__isnull=False)
                             .exclude(pk=alert.pk).order_by("-last_seen", "-id")
                             .values_list("incident_id", flat=True).first())
    placement = alert_place(
        alert=alert, tier=svc.tier, team_id=svc.team_id,
        window=timedelta(minutes=svc.settings.correlation_window_minutes),
        reopen_window=timedelta(minutes=svc.settings.reopen_window_minutes), now=at,
        arrived=arrived or timezone.now(),  # windows run on arrival, whatever time the source stamped
        prior_incident_id=prior_incident_id,
    )
    return SignalResult(alert_id=alert.pk, incident_id=placement.incident.pk,
                        outcome="opened" if placement.opened else "joined")


def _refire(signal: SignalIn, alert: Alert, svc: ServiceContext, *, at: datetime) -> SignalResult:
    """A recently resolved alert fires again: same row; too many flips in the window make it flapping."""
    window = _flap_window(svc)
    flips = _recent_flips([*alert.flips, at.timestamp()], at=at, window=window)
    resolutions_in_window = len(_recent_flips(alert.flips, at=at, window=window))
    alert.status, alert.resolved_at, alert.flips = AlertStatus.FIRING, None, flips
    alert.count += 1
    alert.last_seen = max(alert.last_seen, at)
    alert.service = Service(pk=svc.id, name=svc.name, tier=svc.tier, team_id=svc.team_id)
    if resolutions_in_window >= svc.settings.flap_threshold:
        if alert.hold != AlertHold.FLAPPING and alert.incident_id:
            events.event_record(incident=alert.incident_id, kind="alert_joined", actor_name=alert.source_name,
                                message=f"Alert “{alert.title}” is flapping "
                                        f"({resolutions_in_window} resolutions in {window}); held.",
                                data={"alert_id": alert.pk, "flapping": True})
        alert.hold = AlertHold.FLAPPING
        alert.save()
        return SignalResult(alert_id=alert.pk, incident_id=alert.incident_id, outcome="flapping")
    alert.hold, alert.silence = AlertHold.NONE, None
    alert.save()
    return _admit(alert, svc, at=at, arrived=signal.received_at)


def _resolve(signal: SignalIn, *, at: datetime) -> SignalResult:
    alert = Alert.objects.select_for_update().filter(
        fingerprint=signal.fingerprint, status=AlertStatus.FIRING
    ).first()
    if alert is None:
        return SignalResult(alert_id=None, incident_id=None, outcome="resolved")
    alert.status, alert.resolved_at = AlertStatus.RESOLVED, max(at, alert.first_seen)
    alert.flips = [*alert.flips, at.timestamp()][-FLIPS_KEPT:]
    alert.count += 1
    alert.save(update_fields=["status", "resolved_at", "flips", "count"])
    incident_id = alert.incident_id
    if incident_id is None or alert.hold == AlertHold.FLAPPING:
        return SignalResult(alert_id=alert.pk, incident_id=incident_id, outcome="resolved")
    incident = Incident.objects.select_for_update().select_related("service").get(pk=incident_id)
    if not incident.is_open:
        return SignalResult(alert_id=alert.pk, incident_id=incident_id, outcome="resolved")
    events.alert_resolved(incident=incident, alert=alert)
    svc = _service(incident.service.name)
    if svc.settings.auto_resolve and not Alert.objects.filter(incident_id=incident_id,
                                                              status=AlertStatus.FIRING).exists():
        incident_resolve(incident=incident, actor_name="auto-resolve", now=max(at, incident.opened_at),
                         note="every alert of the incident resolved")
    return SignalResult(alert_id=alert.pk, incident_id=incident_id, outcome="resolved")


def _acknowledge(signal: SignalIn) -> SignalResult:
    """PagerDuty-style acknowledge: acks the open incident of the firing alert with this fingerprint."""
    alert = Alert.objects.filter(fingerprint=signal.fingerprint, status=AlertStatus.FIRING).first()
    if alert is None or alert.incident_id is None:
        return SignalResult(alert_id=getattr(alert, "pk", None), incident_id=None, outcome="acknowledged")
    status = Incident.objects.filter(pk=alert.incident_id).values_list("status", flat=True).first()
    if status == IncidentStatus.TRIGGERED:
        incident_acknowledge(incident=alert.incident_id, actor_name=signal.source_name or signal.source_kind,
                             now=signal.occurred_at)
    return SignalResult(alert_id=alert.pk, incident_id=alert.incident_id, outcome="acknowledged")


def pending_alerts_promote(*, now: datetime | None = None, limit: int = 500) -> int:
    """Open/join incidents for pending alerts that have now persisted long enough without repeating.

    Run by a periodic task: "persists for X seconds" must not depend on the source repeating itself.
    """
    now = now or timezone.now()
    promoted = 0
    ids = list(Alert.objects.filter(status=AlertStatus.FIRING, hold=AlertHold.PENDING)
               .order_by("first_seen").values_list("pk", flat=True)[:limit])
    for pk in ids:
        try:
            with transaction.atomic():
                alert = Alert.objects.select_for_update().select_related("service").filter(
                    pk=pk, status=AlertStatus.FIRING, hold=AlertHold.PENDING).first()
                if alert is None:
                    continue
                svc = _service(alert.service.name)
                if _persisted(alert, svc, at=now):
                    alert.hold = AlertHold.NONE
                    alert.save(update_fields=["hold"])
                    _place(alert, svc, at=now)
                    promoted += 1
        except (IntegrityError, PlacementRace):
            continue  # another worker opened its incident meanwhile; the next pass joins it
    return promoted
