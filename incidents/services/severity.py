"""Severity Level 1-4: a rules engine over blast radius, business impact, hints and duration."""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError, InvalidInput
from incidents import events
from incidents.choices import OPEN_INCIDENT_STATUSES, Severity, SeverityHint, SeveritySource
from incidents.models import Alert, Incident, SeverityOverride

from . import response

# How many distinct services make a fault "spread": three is where a queue of pages turns
# into a system-wide failure in the operating model (Level 1 needs it together with a tier 1).
WIDE_BLAST_RADIUS = 3
MAJOR_KPI_COUNT = 3  # three business KPIs at once is "major business impact" (Level 1)
# A Level 3/4 fault that is still firing after an hour is no longer "limited impact".
LONG_DURATION_MINUTES = 60
HINT_RANK: dict[str, int] = {
    SeverityHint.CRITICAL: 1, SeverityHint.HIGH: 2, SeverityHint.WARNING: 3, SeverityHint.INFO: 4,
}


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityFeatures:
    services: dict[str, int] = field(default_factory=dict)  # service name -> tier
    kpis: tuple[str, ...] = ()
    hint: str = ""  # the worst hint seen
    alerts: int = 1
    duration_minutes: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        return {"services": dict(self.services), "kpis": list(self.kpis), "hint": self.hint,
                "alerts": self.alerts, "duration_minutes": round(self.duration_minutes, 1)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SeverityFeatures:
        return cls(services=dict(data.get("services") or {}), kpis=tuple(data.get("kpis") or ()),
                   hint=data.get("hint") or "", alerts=int(data.get("alerts") or 1),
                   duration_minutes=float(data.get("duration_minutes") or 0.0))


@dataclass(frozen=True, slots=True, kw_only=True)
class SeverityAssessment:
    level: int
    reasons: list[str]


def worse_hint(a: str, b: str) -> str:
    return min((a, b), key=lambda h: HINT_RANK.get(h, 5)) if (a or b) else ""


def features_for_alert(alert: Alert, *, tier: int) -> SeverityFeatures:
    return SeverityFeatures(services={alert.service.name: tier}, kpis=tuple(alert.kpis or ()),
                            hint=alert.severity_hint, alerts=1)


def features_merge(old: SeverityFeatures, new: SeverityFeatures) -> SeverityFeatures:
    return SeverityFeatures(
        services={**old.services, **new.services},
        kpis=tuple(sorted(set(old.kpis) | set(new.kpis))),
        hint=worse_hint(old.hint, new.hint),
        alerts=old.alerts + new.alerts,
        duration_minutes=max(old.duration_minutes, new.duration_minutes),
    )


def severity_assess(*, features: SeverityFeatures) -> SeverityAssessment:
    """Every rule proposes a level with its reason; the worst level wins, all reasons are kept."""
    found: list[tuple[int, str]] = []
    services = features.services
    worst_tier = min(services.values()) if services else 4
    critical = sorted(name for name, tier in services.items() if tier == worst_tier)
    names = ", ".join(critical)
    # Blast radius: how many services, and how critical the most critical one is.
    if len(services) >= WIDE_BLAST_RADIUS and worst_tier == 1:
        found.append((1, f"blast radius: {len(services)} services affected including tier-1 {names}"))
    elif worst_tier == 1:
        found.append((2, f"blast radius: tier-1 service {names} affected"))
    elif len(services) >= WIDE_BLAST_RADIUS:
        found.append((2, f"blast radius: {len(services)} services affected"))
    elif worst_tier == 2 or len(services) == 2:
        found.append((3, f"blast radius: {len(services)} service(s), most critical tier {worst_tier} ({names})"))
    else:
        found.append((4, f"blast radius: one tier-{worst_tier} service ({names})"))
    # Business impact: KPIs the sources say are hurt.
    if len(features.kpis) >= MAJOR_KPI_COUNT:
        found.append((1, f"business impact: {len(features.kpis)} KPIs affected ({', '.join(features.kpis)})"))
    elif features.kpis:
        found.append((2, f"business impact: KPI {', '.join(features.kpis)} affected"))
    # The sender's own view, capped by how critical the service is.
    if features.hint == SeverityHint.CRITICAL:
        level = 1 if worst_tier == 1 else 2
        found.append((level, f"signal severity critical on a tier-{worst_tier} service"))
    elif features.hint == SeverityHint.HIGH:
        level = 2 if worst_tier <= 2 else 3
        found.append((level, f"signal severity high on a tier-{worst_tier} service"))
    elif features.hint == SeverityHint.WARNING:
        found.append((3, "signal severity warning"))
    elif features.hint == SeverityHint.INFO:
        found.append((4, "signal severity info"))
    level = min(lvl for lvl, _ in found)
    # Duration: a lasting fault is worse, but duration alone never pages executives.
    if features.duration_minutes >= LONG_DURATION_MINUTES and level > 2:
        level -= 1
        found.append((level, f"duration: firing for {int(features.duration_minutes)} minutes"))
    found.sort(key=lambda item: item[0])
    return SeverityAssessment(
        level=level, reasons=[f"Level {lvl} {Severity(lvl).label}: {text}" for lvl, text in found]
    )


def severity_reassess(*, features: SeverityFeatures, opened_at: datetime,
                      now: datetime) -> tuple[SeverityFeatures, SeverityAssessment]:
    """The features of an incident opened at `opened_at` as of `now` (duration included), and their level."""
    features = SeverityFeatures(
        services=features.services, kpis=features.kpis, hint=features.hint, alerts=features.alerts,
        duration_minutes=max(features.duration_minutes, (now - opened_at).total_seconds() / 60),
    )
    return features, severity_assess(features=features)


def incident_reassess_severity(*, incident: Incident, features: SeverityFeatures, now: datetime | None = None,
                               save: bool = True) -> bool:
    """Apply the rules to an incident (locked by the caller); upgrades only. True if the level rose."""
    features, assessment = severity_reassess(features=features, opened_at=incident.opened_at,
                                             now=now or timezone.now())
    incident.severity_features = features.as_dict()
    incident.rules_severity = assessment.level
    old = incident.severity
    raised = assessment.level < old
    if raised:
        incident.severity = assessment.level
        incident.severity_source = SeveritySource.RULES
        incident.severity_reasons = assessment.reasons
    elif incident.severity_source == SeveritySource.RULES:
        incident.severity_reasons = assessment.reasons
    if save:
        incident.save(update_fields=["severity", "severity_source", "severity_reasons", "severity_features",
                                     "rules_severity"])
    if raised:
        events.severity_changed(incident=incident, old=old, new=assessment.level, reasons=assessment.reasons,
                                why=assessment.reasons[0].split(": ", 1)[-1])
        incident_id = incident.pk
        transaction.on_commit(lambda: response.on_severity_changed(incident_id=incident_id, old=old,
                                                                   new=assessment.level))
    return raised


def incident_override_severity(*, incident: Incident | int, level: int, reason: str, user: Any) -> Incident:
    """A person sets the level (either way) with a reason; the correction is kept as training data."""
    if level not in Severity.values:
        raise InvalidInput("The level must be 1, 2, 3 or 4.", field="severity")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput("Say why the level is wrong (a reason).", field="reason")
    with transaction.atomic():
        pk = incident if isinstance(incident, int) else incident.pk
        locked = Incident.objects.select_for_update().get(pk=pk)
        if not locked.is_open and locked.status != "resolved":
            raise DomainError("A closed incident's level is history; it cannot change.", field="severity")
        old = locked.severity
        if level == old:
            raise InvalidInput(f"The incident is already Level {level}.", field="severity")
        SeverityOverride.objects.create(
            incident=locked, old_severity=old, new_severity=level, rules_severity=locked.rules_severity,
            reason=reason, features=locked.severity_features, user=user,
        )
        who = user.get_username() if user is not None else "someone"
        rules = [r for r in locked.severity_reasons if not r.startswith("Set by ")]
        locked.severity = level
        locked.severity_source = SeveritySource.OVERRIDE
        locked.severity_reasons = [f"Set by {who}: {reason}", *rules]
        locked.save(update_fields=["severity", "severity_source", "severity_reasons"])
        events.severity_changed(incident=locked, old=old, new=level, reasons=locked.severity_reasons, actor=user,
                                why=reason)
        transaction.on_commit(lambda: response.on_severity_changed(incident_id=pk, old=old, new=level))
    return locked


def open_incidents_reassess(*, now: datetime | None = None) -> int:
    """Re-apply the rules to open incidents so duration can raise a level; returns how many rose.

    Only incidents that have crossed the duration threshold and are below Level 2 can change.
    """
    now = now or timezone.now()
    candidates = Incident.objects.filter(
        status__in=OPEN_INCIDENT_STATUSES,
        opened_at__lte=now - timedelta(minutes=LONG_DURATION_MINUTES), severity__gt=2,
    ).values_list("pk", flat=True)
    raised = 0
    for pk in list(candidates[:1000]):
        with transaction.atomic():
            incident = Incident.objects.select_for_update().get(pk=pk)
            if incident.is_open:
                raised += incident_reassess_severity(
                    incident=incident, features=SeverityFeatures.from_dict(incident.severity_features), now=now
                )
    return raised
