"""PostgreSQL shortcuts of signal intake: a repeat counted in one statement, a join in one read and one write.

Each either does exactly what the general path (`admission`) would store, or does nothing and
says so (None), and the general path takes the signal.
"""
from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from django.db import connection
from django.utils import timezone

from incidents import events
from incidents.choices import OPEN_INCIDENT_STATUSES, AlertStatus, IncidentStatus, SeveritySource
from incidents.contracts import SignalIn, SignalResult
from incidents.models import Incident, Silence

from . import fast_join
from .admission import BumpedRow, ServiceContext, alert_new, flap_window, persisted
from .classifier import classifier_active
from .fast_join import IncidentState, PlacementRead
from .placement import IncidentFacts, Join, PlacementFacts, RuleFacts, placement_decide
from .severity import SeverityFeatures, features_for_alert, features_merge, severity_reassess
from .silences import alert_match_labels, silence_find

# Optimistic joins that lost to a concurrent change of the incident; then the general path locks it.
FAST_JOIN_ATTEMPTS = 3

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


def bump_fast(signal: SignalIn) -> BumpedRow | None:
    """Count a repeat in one prepared statement; None when no alert with it is firing."""
    row = fast_join.fetch_one(_FAST_BUMP_SQL[not connection.in_atomic_block],
                              (signal.occurred_at, signal.fingerprint))
    return (row[0], row[1], row[2]) if row is not None else None


def _facts(state: IncidentState, *, now: datetime | None = None,
           reopen_window: timedelta | None = None) -> IncidentFacts:
    """`now` and `reopen_window`: also say whether it may be reopened then (the model's invariant)."""
    reopenable = now is not None and state.status not in OPEN_INCIDENT_STATUSES and Incident(
        status=state.status, resolved_at=state.resolved_at,
    ).can_transition_to(IncidentStatus.TRIGGERED, now=now, reopen_window=reopen_window)
    return IncidentFacts(id=state.id, status=state.status, service_id=state.service_id,
                         last_received_at=state.last_received_at, grouping_key=state.grouping_key,
                         service_name=state.service_name, reopenable=reopenable)


class _ReadFacts:
    """Answers the decision's questions from the one read (a label rule's key costs one more)."""

    def __init__(self, read: PlacementRead) -> None:
        self.read = read
        self.incidents: dict[int, IncidentState] = {}
        if read.prior_incident is not None:
            self.incidents[read.prior_incident.id] = read.prior_incident

    def _seen(self, state: IncidentState | None) -> IncidentFacts | None:
        if state is None:
            return None
        self.incidents[state.id] = state
        return _facts(state)

    def rules(self) -> Sequence[RuleFacts]:
        return [RuleFacts(id=rule_id, name=name, labels=tuple(names), window_minutes=window)
                for rule_id, name, names, window in self.read.rules]

    def open_by_key(self, key: str) -> IncidentFacts | None:
        return self._seen(fast_join.incident_by_key(key))

    def nearby(self, *, since: datetime, limit: int) -> Sequence[IncidentFacts]:
        # The read asked for these with the service's window and the same limit (`placement.NEARBY_LIMIT`).
        return [facts for state in self.read.nearby[:limit] if (facts := self._seen(state)) is not None]


def join_fast(signal: SignalIn) -> SignalResult | None:
    """A new alert that joins an open incident, in two statements; None: take the general path.

    Admission decides as `admission.signal_store` would (same helpers), placement with the same
    function (`placement_decide`); every outcome other than a join goes back to the general path.
    """
    assert signal.occurred_at is not None and signal.received_at is not None  # normalised
    at, arrived = signal.occurred_at, signal.received_at  # windows run on arrival
    for _ in range(FAST_JOIN_ATTEMPTS):
        now = timezone.now()
        read = fast_join.placement_read(service=signal.service, fingerprint=signal.fingerprint, arrived=arrived,
                                        now=now)
        if read.service_id is None or read.prior_status == AlertStatus.FIRING:
            return None  # an unknown service is named there; a firing alert is deduplicated there
        assert read.team_id is not None  # every service has a team
        svc = ServiceContext(id=read.service_id, name=read.service_name, tier=read.tier, team_id=read.team_id,
                             settings=read.settings)
        if read.prior_status == AlertStatus.RESOLVED and read.prior_resolved_at \
                and at - read.prior_resolved_at <= flap_window(svc):
            return None  # fires again in place (flap tracking)
        alert = alert_new(signal, svc, at=at, pk=read.alert_id)
        if read.silences and silence_find(
            labels=alert_match_labels(labels=alert.labels, service=svc.name, source_kind=alert.source_kind,
                                      source_name=alert.source_name),
            at=now, active=[Silence(pk=pk, matchers=matchers) for pk, matchers in read.silences],
        ) is not None:
            return None
        if not persisted(alert, svc, at=at):
            return None
        facts = _ReadFacts(read)
        prior = read.prior_incident
        decision = placement_decide(PlacementFacts(
            service_id=svc.id, labels=alert.labels, arrived=arrived,
            window=timedelta(minutes=svc.settings.correlation_window_minutes),
            prior=_facts(prior, now=at, reopen_window=timedelta(minutes=svc.settings.reopen_window_minutes))
            if prior is not None else None,
            read=facts,
        ))
        if not isinstance(decision, Join):
            return None  # reopening and opening page people: the general path commits those durably
        incident = facts.incidents[decision.incident_id]
        if incident.status != IncidentStatus.TRIGGERED:
            return None  # someone works it: the general path flags the alert and tells them
        features, assessment = severity_reassess(
            features=features_merge(SeverityFeatures.from_dict(incident.severity_features),
                                    features_for_alert(alert, tier=svc.tier)),
            opened_at=incident.opened_at, now=at,
        )
        if assessment.level < incident.severity or classifier_active():
            return None  # an upgrade is recorded and announced there; so is a classifier's proposal
        alert.incident_id, alert.grouped_by, alert.grouping_rule_id = incident.id, decision.rule, \
            decision.grouping_rule_id
        alert.grouped_detail = decision.detail[:200]
        event = events.alert_joined_event(incident=incident.id, alert=alert, rule=decision.rule,
                                          detail=decision.detail)
        if fast_join.join_write(incident=incident, alert=alert, event=event, features=features.as_dict(),
                                rules_severity=assessment.level, arrived=arrived,
                                reasons=assessment.reasons if incident.severity_source == SeveritySource.RULES
                                else None):
            return SignalResult(alert_id=alert.pk, incident_id=incident.id, outcome="joined")
        # The incident changed since it was read (another join, an override, a status change): read again.
    return None
