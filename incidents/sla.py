"""SLA clocks: time left to acknowledge and to resolve an incident, per level, with on track / at risk / breached.

Targets are configured per level in settings (`INCIDENTS_SLA`, README "Ops console"): one place,
changeable per deployment without a migration, and the same for every service.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from .choices import Severity


class SlaState:
    ON_TRACK = "on-track"
    AT_RISK = "at-risk"
    BREACHED = "breached"
    MET = "met"


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaTarget:
    acknowledge: timedelta | None
    resolve: timedelta | None


@dataclass(frozen=True, slots=True, kw_only=True)
class SlaClock:
    kind: str  # "ack" or "resolve"
    state: str  # an SlaState
    target: timedelta
    remaining: timedelta  # negative when breached; time left at the moment it was met otherwise
    deadline: datetime

    @property
    def label(self) -> str:
        verb = "ack" if self.kind == "ack" else "resolve"
        if self.state == SlaState.MET:
            return f"{verb} met"
        return f"{verb} {_short(self.remaining)}" if self.remaining >= timedelta() \
            else f"{verb} late {_short(-self.remaining)}"


def _short(delta: timedelta) -> str:
    seconds = int(delta.total_seconds())
    if seconds < 3600:
        return f"{seconds // 60}m"
    if seconds < 86400:
        return f"{seconds // 3600}h{(seconds % 3600) // 60:02d}m"
    return f"{seconds // 86400}d{(seconds % 86400) // 3600}h"


def parse_targets(text: str) -> dict[int, SlaTarget]:
    """"1:5/240,2:15/480" -> per level; fails loudly on a malformed entry (a setting, read at start)."""
    targets: dict[int, SlaTarget] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        try:
            level_s, rest = part.split(":")
            ack_s, resolve_s = rest.split("/")
            level = int(level_s)
            ack = None if ack_s.strip() == "-" else timedelta(minutes=int(ack_s))
            resolve = None if resolve_s.strip() == "-" else timedelta(minutes=int(resolve_s))
        except ValueError as exc:
            raise ImproperlyConfigured(f"INCIDENTS_SLA: cannot read {part!r} (want level:ack/resolve)") from exc
        if level not in Severity.values:
            raise ImproperlyConfigured(f"INCIDENTS_SLA: level {level} is not 1-4")
        targets[level] = SlaTarget(acknowledge=ack, resolve=resolve)
    return targets


@cache
def _targets(text: str) -> dict[int, SlaTarget]:
    return parse_targets(text)


def sla_targets() -> dict[int, SlaTarget]:
    return _targets(settings.INCIDENTS_SLA)


def _clock(kind: str, *, start: datetime, target: timedelta | None, done_at: datetime | None,
           now: datetime) -> SlaClock | None:
    if target is None:
        return None
    deadline = start + target
    if done_at is not None:
        remaining = deadline - done_at
        return SlaClock(kind=kind, state=SlaState.MET if remaining >= timedelta() else SlaState.BREACHED,
                        target=target, remaining=remaining, deadline=deadline)
    remaining = deadline - now
    if remaining < timedelta():
        state = SlaState.BREACHED
    elif remaining < target * settings.INCIDENTS_SLA_AT_RISK:
        state = SlaState.AT_RISK
    else:
        state = SlaState.ON_TRACK
    return SlaClock(kind=kind, state=state, target=target, remaining=remaining, deadline=deadline)


def sla_clocks(incident, *, now: datetime) -> list[SlaClock]:
    """The acknowledge and resolve clocks of an incident (either may be absent for its level)."""
    target = sla_targets().get(incident.severity)
    if target is None:
        return []
    clocks = [
        _clock("ack", start=incident.opened_at, target=target.acknowledge, done_at=incident.acknowledged_at, now=now),
        _clock("resolve", start=incident.opened_at, target=target.resolve, done_at=incident.resolved_at, now=now),
    ]
    return [c for c in clocks if c is not None]
