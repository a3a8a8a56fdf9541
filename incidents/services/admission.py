"""The general path of one signal: dedup, flapping, silences and persistence (admission), then correlation."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from core.models import Service
from incidents import events
from incidents.choices import AlertHold, AlertStatus, IncidentStatus
from incidents.contracts import InvalidSignal, SignalIn, SignalResult
from incidents.models import Alert, Incident, ServiceIncidentSettings, Silence

from .correlation import PlacementRace, alert_place
from .lifecycle import incident_acknowledge, incident_resolve
from .silences import alert_match_labels, silence_find

FLIPS_KEPT = 20  # more than any sensible flap threshold; keeps the JSON small
_DEFAULTS = ServiceIncidentSettings()  # a service without a settings row behaves like this
# A repeat counted in place: (alert id, its incident id, its hold).
BumpedRow = tuple[int, int | None, str]


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceContext:
    id: int
    name: str
    tier: int
    team_id: int
    settings: ServiceIncidentSettings


def service_context(name: str) -> ServiceContext:
    """The named service and its noise settings; raises InvalidSignal (400) for an unknown name."""
    service = Service.objects.select_related("incident_settings").filter(name=name).first()
    if service is None:
        raise InvalidSignal(f"No service named {name!r}.", field="service")
    try:
        cfg = service.incident_settings
    except ServiceIncidentSettings.DoesNotExist:
        cfg = _DEFAULTS
    return ServiceContext(id=service.pk, name=service.name, tier=service.tier, team_id=service.team_id, settings=cfg)


def signal_store(signal: SignalIn, *, bumped: BumpedRow | None = None, skip_bump: bool = False) -> SignalResult:
    """Store one normalised signal in the caller's transaction (`bumped`: its repeat is counted already)."""
    at = _occurred(signal)
    if signal.status == "acknowledged":
        return _acknowledge(signal)
    if signal.status == "resolved":
        return _resolve(signal, at=at)
    row = bumped or (None if skip_bump else _bump(signal.fingerprint, at=at))
    if row is not None:
        return signal_repeat(signal, row)
    svc = service_context(signal.service)
    # The last alert with this fingerprint (no firing one exists): a recent one fires again in
    # place (flap tracking); an older one still tells which incident the fault belonged to.
    prior = Alert.objects.filter(fingerprint=signal.fingerprint).order_by("-last_seen", "-id").first()
    if prior is not None and prior.status == AlertStatus.RESOLVED and prior.resolved_at \
            and at - prior.resolved_at <= flap_window(svc):
        return _refire(signal, prior, svc, at=at)
    alert = alert_new(signal, svc, at=at)
    alert.save(force_insert=True)
    return _admit(alert, svc, at=at, prior_incident_id=prior.incident_id if prior is not None else None,
                  arrived=signal.received_at)


def _occurred(signal: SignalIn) -> datetime:
    assert signal.occurred_at is not None  # normalised: always set
    return signal.occurred_at


def alert_new(signal: SignalIn, svc: ServiceContext, *, at: datetime, pk: int | None = None) -> Alert:
    """The unsaved alert a new firing signal becomes."""
    alert = Alert(
        pk=pk, fingerprint=signal.fingerprint, source_kind=signal.source_kind, source_name=signal.source_name,
        service_id=svc.id, title=signal.title, description=signal.description, labels=dict(signal.labels),
        severity_hint=signal.severity_hint, first_seen=at, last_seen=at, payload=dict(signal.payload),
        links=list(signal.links), kpis=list(signal.kpis),
    )
    alert.service = Service(pk=svc.id, name=svc.name, tier=svc.tier, team_id=svc.team_id)
    return alert


def _bump(fingerprint: str, *, at: datetime) -> BumpedRow | None:
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
        row = cursor.fetchone()
    return (row[0], row[1], row[2]) if row is not None else None


def signal_repeat(signal: SignalIn, row: BumpedRow) -> SignalResult:
    """A repeat of a firing alert, counted already: a held one may be released by it."""
    alert_id, incident_id, hold = row
    if hold == AlertHold.NONE:
        return SignalResult(alert_id=alert_id, incident_id=incident_id, outcome="deduplicated")
    if hold == AlertHold.FLAPPING:
        return SignalResult(alert_id=alert_id, incident_id=incident_id, outcome="flapping")
    at = _occurred(signal)
    alert = Alert.objects.select_for_update().select_related("service").get(pk=alert_id)
    svc = service_context(alert.service.name)
    if hold == AlertHold.SILENCED:
        if alert.silence_id and alert.silence and _silence_active(alert.silence, timezone.now()):
            return SignalResult(alert_id=alert_id, incident_id=incident_id, outcome="silenced")
        alert.hold, alert.silence = AlertHold.NONE, None
        alert.save(update_fields=["hold", "silence"])
        return _admit(alert, svc, at=at, check_silence=True, arrived=signal.received_at)
    # Pending: promote once it has persisted long enough or repeated often enough.
    if persisted(alert, svc, at=at):
        alert.hold = AlertHold.NONE
        alert.save(update_fields=["hold"])
        return _place(alert, svc, at=at, arrived=signal.received_at)
    return SignalResult(alert_id=alert_id, incident_id=None, outcome="pending")


def _silence_active(silence: Silence, at: datetime) -> bool:
    return silence.expired_early_at is None and silence.starts_at <= at < silence.ends_at


def persisted(alert: Alert, svc: ServiceContext, *, at: datetime) -> bool:
    """Whether a firing alert has lasted or repeated enough to be placed (else it is held pending)."""
    cfg = svc.settings
    if cfg.min_persistence_seconds == 0 and cfg.min_repeat_count <= 1:
        return True
    if cfg.min_repeat_count > 1 and alert.count >= cfg.min_repeat_count:
        return True
    return cfg.min_persistence_seconds > 0 and (at - alert.first_seen).total_seconds() >= cfg.min_persistence_seconds


def flap_window(svc: ServiceContext) -> timedelta:
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
    if not persisted(alert, svc, at=at):
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
    window = flap_window(svc)
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
    svc = service_context(incident.service.name)
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
                svc = service_context(alert.service.name)
                if persisted(alert, svc, at=now):
                    alert.hold = AlertHold.NONE
                    alert.save(update_fields=["hold"])
                    _place(alert, svc, at=now)
                    promoted += 1
        except (IntegrityError, PlacementRace):
            continue  # another worker opened its incident meanwhile; the next pass joins it
    return promoted
