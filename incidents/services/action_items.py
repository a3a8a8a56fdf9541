"""Action items of reviews: creation and updates (owner and due date required), daily overdue reminders,
and the effectiveness watcher that marks a done item "held" or "recurred"."""
from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from core.exceptions import InvalidInput
from core.models import Service
from incidents.choices import ActionItemPriority, ActionItemStatus, ContributingFactor, Effectiveness
from incidents.models import ActionItem, Alert, Incident, Playbook, PostIncidentReview

from .reminders import person_remind
from .reviews import incident_time_zone

TITLE_MAX = 300
# The part of a fingerprint that names the fault, not this occurrence: integration scope ("i12:") and
# trailing hex hashes / numbers vary between occurrences of the same kind of fault.
_SCOPE = re.compile(r"^i\d+:")
_VARIABLE_TAIL = re.compile(r"([:/_-]([0-9a-f]{8,}|\d+))+$")


def fingerprint_family(*, fingerprint: str, labels: dict | None = None) -> str:
    """Occurrences of the same kind of fault share a family: the alert name when the source gives one
    (Alertmanager, Grafana), else the fingerprint without its integration scope and variable tail."""
    if labels and labels.get("alertname"):
        return f"alertname:{labels['alertname']}"
    return _VARIABLE_TAIL.sub("", _SCOPE.sub("", fingerprint or ""))


def _user(raw: Any, *, field: str):
    if raw is None or raw == "":
        return None
    if hasattr(raw, "pk"):
        return raw
    User = get_user_model()
    try:
        return User.objects.get(pk=int(raw), is_active=True)
    except (User.DoesNotExist, ValueError, TypeError):
        raise InvalidInput(f"No active person with id {raw!r}.", field=field) from None


def _date(raw: Any, *, field: str) -> date | None:
    if raw is None or raw == "":
        return None
    if isinstance(raw, date):
        return raw
    try:
        return date.fromisoformat(str(raw))
    except ValueError:
        raise InvalidInput(f"{raw!r} is not a date (YYYY-MM-DD).", field=field) from None


def _fk(model, raw: Any, *, field: str):
    if raw is None or raw == "":
        return None
    if hasattr(raw, "pk"):
        return raw
    try:
        return model.objects.get(pk=int(raw))
    except (model.DoesNotExist, ValueError, TypeError):
        raise InvalidInput(f"No {field} with id {raw!r}.", field=field) from None


def _clean(values: dict[str, Any], *, creating: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if "title" in values or creating:
        title = str(values.get("title") or "").strip()
        if not title:
            raise InvalidInput("An action item needs a title.", field="title")
        out["title"] = title[:TITLE_MAX]
    if "owner" in values or creating:
        owner = _user(values.get("owner"), field="owner")
        if owner is None:
            raise InvalidInput("An action item needs an owner.", field="owner")
        out["owner"] = owner
    if "due_date" in values or creating:
        due = _date(values.get("due_date"), field="due_date")
        if due is None:
            raise InvalidInput("An action item needs a due date.", field="due_date")
        out["due_date"] = due
    if "priority" in values:
        if values["priority"] not in ActionItemPriority.values:
            raise InvalidInput(f"Priority is one of {', '.join(ActionItemPriority.values)}.", field="priority")
        out["priority"] = values["priority"]
    if "status" in values:
        if values["status"] not in ActionItemStatus.values:
            raise InvalidInput(f"Status is one of {', '.join(ActionItemStatus.values)}.", field="status")
        out["status"] = values["status"]
    if "playbook" in values:
        out["playbook"] = _fk(Playbook, values["playbook"], field="playbook")
    if "service" in values:
        out["service"] = _fk(Service, values["service"], field="service")
    if "model_name" in values:
        out["model_name"] = str(values["model_name"] or "").strip()[:100]
    if "contributing_factor" in values:
        factor = str(values["contributing_factor"] or "")
        if factor and factor not in ContributingFactor.values:
            raise InvalidInput(f"Unknown contributing factor {factor!r}.", field="contributing_factor")
        out["contributing_factor"] = factor
    return out


def _status_effects(item: ActionItem, *, now: datetime) -> None:
    """Done starts the watch for a recurrence; reopening or cancelling stops it."""
    if item.status == ActionItemStatus.DONE:
        if item.completed_at is None:
            item.completed_at = now
            item.effectiveness = Effectiveness.WATCHING
            item.watch_until = now + timedelta(days=settings.ACTION_ITEM_WATCH_DAYS)
            item.recurrence = None
            item.effectiveness_decided_at = None
    else:
        item.completed_at = None
        item.effectiveness = Effectiveness.NOT_DONE
        item.watch_until = None
        item.recurrence = None
        item.effectiveness_decided_at = None


def action_item_create(*, review: PostIncidentReview, user: Any, now: datetime | None = None,
                       **values: Any) -> ActionItem:
    cleaned = _clean(values, creating=True)
    item = ActionItem(review=review, created_by=user, **cleaned)
    _status_effects(item, now=now or timezone.now())
    item.save()
    return item


def action_item_update(*, item: ActionItem, user: Any, now: datetime | None = None, **values: Any) -> ActionItem:
    cleaned = _clean(values, creating=False)
    with transaction.atomic():
        locked = ActionItem.objects.select_for_update().get(pk=item.pk)
        old_status = locked.status
        for name, value in cleaned.items():
            setattr(locked, name, value)
        if locked.status != old_status:
            _status_effects(locked, now=now or timezone.now())
        locked.save()
    return locked


def action_items_overdue(*, today: date | None = None) -> QuerySet[ActionItem]:
    today = today or timezone.localdate()
    return (ActionItem.objects.filter(status__in=[ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS],
                                      due_date__lt=today)
            .select_related("owner", "review__incident").order_by("due_date", "id"))


def action_items_remind(*, now: datetime | None = None) -> int:
    """Beat: each overdue item reminds its owner once a day (the day in the incident team's zone)."""
    now = now or timezone.now()
    sent = 0
    candidates = (ActionItem.objects.filter(status__in=[ActionItemStatus.OPEN, ActionItemStatus.IN_PROGRESS],
                                            due_date__lt=(now + timedelta(days=1)).date())
                  .select_related("owner", "review__incident__service__team", "review__incident__team"))
    for item in candidates:
        incident = item.review.incident
        today = now.astimezone(incident_time_zone(incident)).date()
        if item.due_date >= today:
            continue
        days = (today - item.due_date).days
        sent += person_remind(
            user=item.owner, scope=f"action{item.pk}:overdue:{today}", incident_id=incident.pk,
            subject=f"[AIOps] Action item overdue {days} day(s): {item.title}",
            text=f"“{item.title}” from the review of incident #{incident.pk} was due {item.due_date}.",
            path=f"/incidents/{incident.pk}/review/",
        )
    return sent


# --- effectiveness ----------------------------------------------------------------------------


def _families(incident_id: int) -> set[tuple[int, str]]:
    rows = Alert.objects.filter(incident_id=incident_id).values_list("service_id", "fingerprint", "labels")
    return {(service_id, fingerprint_family(fingerprint=fp, labels=labels)) for service_id, fp, labels in rows}


def action_item_recurrence(*, item: ActionItem, until: datetime) -> Incident | None:
    """The first incident opened after the item was done that repeats what it addressed: the same service
    and fingerprint family as the reviewed incident, or (when the item names one) the same contributing
    factor in its own review."""
    if item.completed_at is None:
        return None
    original = item.review.incident
    families = _families(original.pk)
    if item.service_id:
        families = {(s, f) for s, f in families if s == item.service_id}
    services = {s for s, _ in families}
    later = Incident.objects.filter(opened_at__gt=item.completed_at, opened_at__lte=until).exclude(pk=original.pk)
    query = Q(pk__in=Alert.objects.filter(service_id__in=services).values("incident_id")) if services else Q(pk=None)
    if item.contributing_factor:
        query |= Q(pk__in=_factor_incident_ids(item.contributing_factor))
    for candidate in later.filter(query).order_by("opened_at", "id"):
        if families & _families(candidate.pk):
            return candidate
        if item.contributing_factor and hasattr(candidate, "review") and \
                item.contributing_factor in candidate.review.factor_keys:
            return candidate
    return None


def _factor_incident_ids(factor: str) -> list[int]:
    """Incidents whose review names `factor` (reviews are few next to incidents; one portable filter)."""
    return [r.incident_id for r in PostIncidentReview.objects.exclude(contributing_factors=[]).only(
        "incident_id", "contributing_factors") if factor in r.factor_keys]


def action_items_watch(*, now: datetime | None = None) -> int:
    """Beat: decide watched items: "recurred" as soon as a recurrence opens, "held" once the watch ends."""
    now = now or timezone.now()
    decided = 0
    for item in ActionItem.objects.filter(effectiveness=Effectiveness.WATCHING).select_related("review__incident"):
        assert item.watch_until is not None
        recurrence = action_item_recurrence(item=item, until=min(now, item.watch_until))
        if recurrence is not None:
            updated = ActionItem.objects.filter(pk=item.pk, effectiveness=Effectiveness.WATCHING).update(
                effectiveness=Effectiveness.RECURRED, recurrence=recurrence, effectiveness_decided_at=now)
        elif now >= item.watch_until:
            updated = ActionItem.objects.filter(pk=item.pk, effectiveness=Effectiveness.WATCHING).update(
                effectiveness=Effectiveness.HELD, effectiveness_decided_at=now)
        else:
            continue
        decided += updated
    return decided
