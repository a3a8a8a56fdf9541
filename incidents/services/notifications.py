"""Notifications by severity: who is told (policy + preferences) and what, one delivery row each.

Sending the rows is `deliveries` (claim, channel, retries, the sweep); people's channel choices and
their in-app list are here too.
"""
from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone

from core.choices import Role
from core.enqueue import enqueue
from core.exceptions import InvalidInput
from incidents.choices import ChannelKind, DeliveryKind, DeliveryStatus, Severity
from incidents.models import (
    ChannelEndpoint,
    Delivery,
    Incident,
    NotificationPolicy,
    NotificationPreference,
    UserNotification,
)

DEFAULT_CHANNELS = (ChannelKind.EMAIL, ChannelKind.INAPP)  # a person without preferences
UNKNOWN_LEVEL_COLOUR = "#6b7280"  # the UI's muted grey (static/css/app.css --muted)


@dataclass(frozen=True, slots=True, kw_only=True)
class Target:
    channel: str
    recipient_id: int | None
    endpoint_id: int | None
    address: str


@dataclass(frozen=True, slots=True, kw_only=True)
class NotifyResult:
    created: int
    existing: int
    delivery_ids: tuple[int, ...]


# --- audiences ------------------------------------------------------------------------------


def audience_users(
    *, executives: bool, managers: bool, team: bool, incident: Incident | None = None, extra: Iterable = ()
) -> list:
    """Active people in the selected groups, the incident's service team, and the named extra people."""
    User = get_user_model()
    query = Q(pk__in=[u.pk for u in extra])
    roles = [role for role, wanted in ((Role.EXECUTIVE, executives), (Role.MANAGER, managers)) if wanted]
    if roles:
        query |= Q(groups__name__in=roles)
    if team and incident is not None:
        team_id = incident_team_id(incident)
        if team_id:
            query |= Q(teams__id=team_id)
    return list(User.objects.filter(query, is_active=True).distinct().order_by("pk"))


def incident_team_id(incident: Incident) -> int | None:
    team_id = getattr(incident, "team_id", None)
    if team_id:
        return team_id
    service = getattr(incident, "service", None)
    return service.team_id if service is not None else None


def person_targets(*, users: Sequence, allowed: Iterable[str]) -> list[Target]:
    """Each person on each channel both the policy allows and they chose (default: e-mail + in-app)."""
    allowed = set(allowed)
    prefs = {
        p.user_id: p
        for p in NotificationPreference.objects.filter(user__in=users).select_related(
            "slack_endpoint", "webhook_endpoint"
        )
    }
    targets: list[Target] = []
    for user in users:
        pref = prefs.get(user.pk)
        chosen = list(pref.channels) if pref and pref.channels else list(DEFAULT_CHANNELS)
        for channel in chosen:
            if channel not in allowed:
                continue
            if channel == ChannelKind.EMAIL and user.email:
                targets.append(Target(channel=channel, recipient_id=user.pk, endpoint_id=None, address=user.email))
            elif channel == ChannelKind.INAPP:
                targets.append(Target(channel=channel, recipient_id=user.pk, endpoint_id=None, address=""))
            elif channel in (ChannelKind.SLACK, ChannelKind.WEBHOOK) and pref is not None:
                endpoint = pref.slack_endpoint if channel == ChannelKind.SLACK else pref.webhook_endpoint
                if endpoint is not None and endpoint.enabled:
                    targets.append(Target(channel=channel, recipient_id=user.pk, endpoint_id=endpoint.pk,
                                          address=endpoint.url))
    return targets


def endpoint_targets(*, endpoints: Iterable[ChannelEndpoint], allowed: Iterable[str]) -> list[Target]:
    allowed = set(allowed)
    return [
        Target(channel=e.kind, recipient_id=None, endpoint_id=e.pk, address=e.url)
        for e in endpoints if e.enabled and e.kind in allowed
    ]


def policy_get(*, level: int) -> NotificationPolicy | None:
    return NotificationPolicy.objects.filter(severity=level, enabled=True).first()


# --- messages -------------------------------------------------------------------------------


def level_label(level: int | None) -> str:
    if not level:
        return ""
    try:
        return f"L{level} {Severity(level).label}"
    except ValueError:
        return f"L{level}"


def level_colour(level: int | None) -> str:
    """The level's colour (Slack attachments, the e-mail heading); grey for no or an unknown level."""
    try:
        return Severity(level).colour if level else UNKNOWN_LEVEL_COLOUR
    except ValueError:
        return UNKNOWN_LEVEL_COLOUR


def incident_url(incident_id: int) -> str:
    return f"{settings.SITE_URL}/incidents/{incident_id}/"


def incident_message(*, incident: Incident, kind: str, level: int, step: int = 0, old_level: int | None = None) -> dict:
    """Subject, plain text and HTML for one incident notification (rendered once per notify call)."""
    label = level_label(level)
    service = incident.service.name if getattr(incident, "service_id", None) else ""
    prefixes: dict[str, str] = {
        DeliveryKind.PAGE: "",
        DeliveryKind.UPGRADE: f"UPGRADED from {level_label(old_level)}: " if old_level else "UPGRADED: ",
        DeliveryKind.ESCALATION: f"ESCALATION {step}, not acknowledged: ",
        DeliveryKind.RESOLVED: "RESOLVED: ",
    }
    prefix = prefixes.get(kind, "")
    subject = f"[AIOps {label}] {prefix}{incident.title}" + (f" ({service})" if service else "")
    url = incident_url(incident.pk)
    context = {
        "incident": incident, "kind": kind, "level": level, "level_label": label,
        "old_level_label": level_label(old_level), "step": step, "service": service, "url": url, "subject": subject,
        "colour": level_colour(level),
    }
    return {
        "subject": subject[:250],
        "text": render_to_string("incidents/notifications/incident.txt", context),
        "html": render_to_string("incidents/notifications/incident.html", context),
        "url": url,
        "level": level,
        "level_label": label,
        "colour": level_colour(level),
        "kind": kind,
        "data": {
            "incident": {
                "id": incident.pk, "title": incident.title, "service": service, "level": level,
                "status": str(getattr(incident, "status", "")), "url": url,
            },
            "step": step,
            "old_level": old_level,
        },
    }


# --- planning deliveries --------------------------------------------------------------------


def delivery_key(*, kind: str, scope: str, target: Target) -> str:
    who = f"u{target.recipient_id}" if target.recipient_id else f"e{target.endpoint_id}"
    return f"{kind}:{scope}:{target.channel}:{who}"


def deliveries_create(
    *, kind: str, scope: str, targets: Sequence[Target], message: dict, incident_id: int | None = None,
    level: int | None = None, step: int = 0,
) -> NotifyResult:
    """Insert one pending row per target whose key is new, then hand the new ones to the notify queue."""
    keyed = {delivery_key(kind=kind, scope=scope, target=t): t for t in targets}
    if not keyed:
        return NotifyResult(created=0, existing=0, delivery_ids=())
    existing = set(Delivery.objects.filter(key__in=keyed).values_list("key", flat=True))
    new = [
        Delivery(
            key=key, incident_id=incident_id, kind=kind, channel=t.channel, recipient_id=t.recipient_id,
            endpoint_id=t.endpoint_id, address=t.address[:500], level=level, step=step, message=message,
        )
        for key, t in keyed.items() if key not in existing
    ]
    # ignore_conflicts: a concurrent notify of the same incident may insert the same keys; the unique key wins.
    Delivery.objects.bulk_create(new, ignore_conflicts=True)
    ids = tuple(
        Delivery.objects.filter(key__in=[d.key for d in new], status=DeliveryStatus.PENDING, attempts=0)
        .order_by("pk").values_list("pk", flat=True)
    )
    for delivery_id in ids:
        enqueue("incidents.deliver_notification", delivery_id)
    return NotifyResult(created=len(ids), existing=len(existing), delivery_ids=ids)


def incident_notify(
    *, incident_id: int, kind: str = DeliveryKind.PAGE, level: int | None = None, step: int = 0,
    old_level: int | None = None, audience=None,
) -> NotifyResult:
    """Page (or upgrade/escalation notice) the people and endpoints the level's policy names."""
    incident = Incident.objects.select_related("service").get(pk=incident_id)
    level = level or incident.severity
    policy = policy_get(level=level)
    if policy is None or (policy.digest_only and kind == DeliveryKind.PAGE):
        return NotifyResult(created=0, existing=0, delivery_ids=())
    source = audience or policy
    users = audience_users(
        executives=source.notify_executives, managers=source.notify_managers, team=source.notify_team,
        incident=incident, extra=source.users.all(),
    )
    allowed = policy.channels or list(ChannelKind.values)
    targets = person_targets(users=users, allowed=allowed)
    targets += endpoint_targets(endpoints=policy.endpoints.all(), allowed=allowed)
    scopes: dict[str, str] = {
        # A reopened incident pages again; anything else about the same incident never does.
        DeliveryKind.PAGE: f"i{incident.pk}" + (f":r{incident.reopened_count}" if incident.reopened_count else ""),
        DeliveryKind.UPGRADE: f"i{incident.pk}:L{level}",
        DeliveryKind.ESCALATION: f"i{incident.pk}:L{level}:s{step}",
    }
    scope = scopes[kind]
    message = incident_message(incident=incident, kind=kind, level=level, step=step, old_level=old_level)
    return deliveries_create(kind=kind, scope=scope, targets=targets, message=message, incident_id=incident.pk,
                             level=level, step=step)


def incident_resolved_notify(*, incident_id: int) -> NotifyResult:
    """Tell whoever was paged about the incident (same people, same channels) that it is resolved."""
    incident = Incident.objects.select_related("service").get(pk=incident_id)
    paged = (Delivery.objects.filter(incident=incident, status=DeliveryStatus.SENT,
                                     kind__in=[DeliveryKind.PAGE, DeliveryKind.UPGRADE, DeliveryKind.ESCALATION])
             .values_list("channel", "recipient_id", "endpoint_id", "address").distinct())
    targets = [Target(channel=c, recipient_id=r, endpoint_id=e, address=a) for c, r, e, a in paged]
    message = incident_message(incident=incident, kind=DeliveryKind.RESOLVED, level=incident.severity)
    return deliveries_create(kind=DeliveryKind.RESOLVED, scope=f"i{incident.pk}:r{incident.reopened_count}",
                             targets=targets, message=message, incident_id=incident.pk, level=incident.severity)


# --- preferences ----------------------------------------------------------------------------


def notification_preference_get(*, user) -> NotificationPreference:
    pref = NotificationPreference.objects.filter(user=user).select_related("slack_endpoint", "webhook_endpoint").first()
    return pref or NotificationPreference(user=user, channels=list(DEFAULT_CHANNELS))


def notification_preference_set(*, user, channels: Sequence[str]) -> NotificationPreference:
    """A person picks their channels; Slack/webhook need a personal endpoint an admin configured."""
    chosen = list(dict.fromkeys(channels))
    unknown = [c for c in chosen if c not in ChannelKind.values]
    if unknown:
        raise InvalidInput(f"Unknown channel(s) {', '.join(map(str, unknown))}; use {', '.join(ChannelKind.values)}.",
                           field="channels")
    if not chosen:
        raise InvalidInput("Choose at least one channel, or you cannot be paged.", field="channels")
    pref = notification_preference_get(user=user)
    personal = ((ChannelKind.SLACK, pref.slack_endpoint_id), (ChannelKind.WEBHOOK, pref.webhook_endpoint_id))
    for channel, endpoint in personal:
        if channel in chosen and endpoint is None:
            raise InvalidInput(f"No personal {ChannelKind(channel).label} endpoint is set up for you; ask an admin.",
                               field="channels")
    pref.channels = chosen
    pref.save()
    return pref


# --- in-app list ----------------------------------------------------------------------------


def user_notifications_mark_read(*, user, ids: Sequence[int] | None = None) -> int:
    notes = UserNotification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        notes = notes.filter(pk__in=ids)
    return notes.update(read_at=timezone.now())
