"""Incident cost: downtime, responders' time, review time and manual lines; recomputed while open, frozen at close.

Defaults are Netflix Dispatch's (documented in the README): an hourly rate of 50,000 / 2,080 (a yearly
cost spread over 2,080 working hours), the incident commander weighted 1.0 and every other responder
0.5; a review costs 1 h of preparation plus 0.5 h per participant.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import Min, Sum
from django.utils import timezone

from core.exceptions import DomainError, InvalidInput
from core.models import Service
from incidents.choices import OPEN_INCIDENT_STATUSES, CostLineCategory, IncidentStatus, ReviewStatus, TimelineKind
from incidents.models import Alert, CostLine, Incident, IncidentCost, PostIncidentReview, TimelineEvent

CENT = Decimal("0.01")
DEFAULT_HOURLY_RATE = Decimal(50_000) / Decimal(2_080)  # Dispatch: yearly cost over 2,080 working hours
COMMANDER_WEIGHT = Decimal("1.0")  # Dispatch: the incident commander's time counts in full
RESPONDER_WEIGHT = Decimal("0.5")  # Dispatch: other participants are assumed half engaged
REVIEW_PREPARATION_HOURS = Decimal("1")  # Dispatch: one hour to prepare the review
REVIEW_HOURS_PER_PARTICIPANT = Decimal("0.5")  # Dispatch: a 30-minute review meeting per participant
MAX_COST_LINE = Decimal("999999999999.99")  # what the 14-digit column holds


class CostFrozen(DomainError):
    status_code = 409
    code = "cost_frozen"


@dataclass(frozen=True, slots=True, kw_only=True)
class ServiceDowntime:
    service: str
    joined_at: datetime
    minutes: Decimal
    per_minute: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class ResponderTime:
    username: str
    role: str  # "commander" or "responder"
    engaged_from: datetime
    hours: Decimal
    weight: Decimal
    amount: Decimal


@dataclass(frozen=True, slots=True, kw_only=True)
class CostBreakdown:
    currency: str
    start: datetime
    end: datetime
    hourly_rate: Decimal
    services: tuple[ServiceDowntime, ...]
    responders: tuple[ResponderTime, ...]
    review_hours: Decimal
    downtime: Decimal
    response: Decimal
    review: Decimal
    manual: Decimal
    total: Decimal

    def as_data(self) -> dict[str, Any]:
        """JSON-serialisable (money as strings) for the panel, the API and the stored breakdown."""
        return {
            "currency": self.currency, "start": self.start.isoformat(), "end": self.end.isoformat(),
            "hourly_rate": str(self.hourly_rate.quantize(CENT)),
            "services": [{"service": s.service, "joined_at": s.joined_at.isoformat(), "minutes": str(s.minutes),
                          "per_minute": str(s.per_minute), "amount": str(s.amount)} for s in self.services],
            "responders": [{"username": r.username, "role": r.role, "engaged_from": r.engaged_from.isoformat(),
                            "hours": str(r.hours), "weight": str(r.weight), "amount": str(r.amount)}
                           for r in self.responders],
            "review_hours": str(self.review_hours),
            "downtime": str(self.downtime), "response": str(self.response), "review": str(self.review),
            "manual": str(self.manual), "total": str(self.total),
        }


def currency() -> str:
    return str(settings.COST_CURRENCY)


def hourly_rate() -> Decimal:
    raw = str(getattr(settings, "INCIDENT_COST_HOURLY_RATE", "") or "")
    return Decimal(raw) if raw else DEFAULT_HOURLY_RATE


def _money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def _minutes(start: datetime, end: datetime) -> Decimal:
    seconds = max((end - start).total_seconds(), 0.0)
    return (Decimal(str(seconds)) / Decimal(60)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def incident_cost_window(*, incident: Incident, review: PostIncidentReview | None = None,
                         now: datetime | None = None) -> tuple[datetime, datetime]:
    """Impact start/end: the review's figures when given, else opening to resolution (or now while open)."""
    now = now or timezone.now()
    start = (review.impact_start if review and review.impact_start else None) or incident.opened_at
    end = (review.impact_end if review and review.impact_end else None) or incident.resolved_at or now
    return start, max(end, start)


def _review_of(incident: Incident) -> PostIncidentReview | None:
    return PostIncidentReview.objects.filter(incident=incident).first()


def incident_cost_compute(*, incident: Incident, now: datetime | None = None) -> CostBreakdown:
    """The cost as of `now`, from the incident's services, alerts, timeline, review and cost lines."""
    review = _review_of(incident)
    start, end = incident_cost_window(incident=incident, review=review, now=now)
    rate = hourly_rate()

    # Downtime: the incident's service from the start; every other service from its first alert here.
    joined: dict[int, datetime] = {incident.service_id: start}
    rows = (Alert.objects.filter(incident=incident).exclude(service_id=incident.service_id)
            .order_by().values("service_id").annotate(first=Min("first_seen")))
    for row in rows:
        joined[row["service_id"]] = max(row["first"], start)
    if review is not None:
        for service_id in review.impact_services.values_list("pk", flat=True):
            joined.setdefault(service_id, start)
    services = []
    for service in Service.objects.filter(pk__in=joined).order_by("name"):
        minutes = _minutes(min(joined[service.pk], end), end)
        per_minute = Decimal(service.downtime_cost_per_minute)
        services.append(ServiceDowntime(service=service.name, joined_at=joined[service.pk], minutes=minutes,
                                        per_minute=per_minute, amount=_money(minutes * per_minute)))

    # Responders: from their first action (or being assigned) until the end of the response.
    response_end = incident.resolved_at or (now or timezone.now())
    first: dict[int, datetime] = {}
    names: dict[int, str] = {}
    events = TimelineEvent.objects.filter(incident=incident).exclude(actor=None).select_related("actor")
    for event in events.only("at", "actor__username", "kind", "data"):
        user_id = event.actor_id
        if user_id is None or event.actor is None:
            continue
        names[user_id] = event.actor.get_username()
        first[user_id] = min(first.get(user_id, event.at), event.at)
    assigned = TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.ASSIGNED).exclude(
        data__assignee_id=None).values_list("data", "at")
    for data, at in assigned:
        user_id = data.get("assignee_id") if isinstance(data, dict) else None
        if user_id:
            first[user_id] = min(first.get(user_id, at), at)
    missing = [pk for pk in first if pk not in names]
    for user in get_user_model().objects.filter(pk__in=missing):
        names[user.pk] = user.get_username()
    commander_id = incident.assignee_id or incident.acknowledged_by_id
    responders = []
    for user_id, since in sorted(first.items(), key=lambda item: (item[1], names.get(item[0], ""))):
        since = max(since, incident.opened_at)
        if since >= response_end:
            continue  # acted only after the response ended (closing, writing the review)
        hours = (_minutes(since, response_end) / Decimal(60)).quantize(Decimal("0.0001"), rounding=ROUND_HALF_UP)
        weight = COMMANDER_WEIGHT if user_id == commander_id else RESPONDER_WEIGHT
        responders.append(ResponderTime(
            username=names.get(user_id, f"user {user_id}"),
            role="commander" if user_id == commander_id else "responder",
            engaged_from=since, hours=hours, weight=weight, amount=_money(hours * rate * weight)))

    review_hours = Decimal("0")
    if review is not None and review.status == ReviewStatus.PUBLISHED:
        review_hours = REVIEW_PREPARATION_HOURS + REVIEW_HOURS_PER_PARTICIPANT * review.participants.count()
    manual = CostLine.objects.filter(incident=incident).aggregate(s=Sum("amount"))["s"] or Decimal("0")

    downtime = sum((s.amount for s in services), Decimal("0"))
    response = sum((r.amount for r in responders), Decimal("0"))
    review_cost = _money(review_hours * rate)
    manual = _money(Decimal(manual))
    return CostBreakdown(
        currency=currency(), start=start, end=end, hourly_rate=rate, services=tuple(services),
        responders=tuple(responders), review_hours=review_hours, downtime=downtime, response=response,
        review=review_cost, manual=manual, total=downtime + response + review_cost + manual,
    )


def incident_cost_refresh(*, incident: Incident | int, now: datetime | None = None,
                          freeze: bool = False) -> IncidentCost:
    """Store the current cost; a frozen cost (closed incident) is returned unchanged."""
    incident_id = incident if isinstance(incident, int) else incident.pk
    with transaction.atomic():
        obj = Incident.objects.select_related("service").get(pk=incident_id)
        stored = IncidentCost.objects.select_for_update().filter(incident=obj).first()
        if stored is not None and stored.frozen_at is not None:
            return stored
        now = now or timezone.now()
        breakdown = incident_cost_compute(incident=obj, now=now)
        values = {
            "currency": breakdown.currency, "downtime": breakdown.downtime, "response": breakdown.response,
            "review": breakdown.review, "manual": breakdown.manual, "total": breakdown.total,
            "breakdown": breakdown.as_data(), "computed_at": now, "frozen_at": now if freeze else None,
        }
        cost, _ = IncidentCost.objects.update_or_create(incident=obj, defaults=values)
    return cost


def incident_cost_freeze(*, incident: Incident | int, now: datetime | None = None) -> IncidentCost:
    """The last computation, at close: later changes (new cost lines, a rate change) never move it."""
    return incident_cost_refresh(incident=incident, now=now, freeze=True)


def incident_costs_refresh_open(*, now: datetime | None = None) -> int:
    """Beat: recompute the open incidents' cost (it grows by the minute) and any incident without one yet.

    A resolved incident's figures only move with its review or cost lines, which refresh it themselves."""
    ids = set(Incident.objects.filter(status__in=OPEN_INCIDENT_STATUSES).values_list("pk", flat=True))
    ids |= set(Incident.objects.filter(cost__isnull=True).values_list("pk", flat=True))
    for incident_id in sorted(ids):
        incident_cost_refresh(incident=incident_id, now=now,
                              freeze=Incident.objects.filter(pk=incident_id, status=IncidentStatus.CLOSED).exists())
    return len(ids)


def _amount(raw: Any) -> Decimal:
    if isinstance(raw, bool) or raw is None or raw == "":
        raise InvalidInput("Give the amount as a number, e.g. 1250.00.", field="amount")
    try:
        value = Decimal(str(raw).strip())
    except (InvalidOperation, ValueError):
        raise InvalidInput(f"The amount {str(raw)[:40]!r} is not a number.", field="amount") from None
    if not value.is_finite():
        raise InvalidInput("The amount must be a finite number.", field="amount")
    if value < 0:
        raise InvalidInput("The amount cannot be negative; a cost line records money spent.", field="amount")
    if value > MAX_COST_LINE or value != value.quantize(CENT):
        raise InvalidInput("The amount has at most 12 digits before and 2 after the point.", field="amount")
    return value


def cost_line_add(*, incident: Incident, user: Any, amount: Any, description: str,
                  currency_code: str | None = None, category: str = CostLineCategory.OTHER) -> CostLine:
    """A manual cost (credits paid, penalties) in the configured currency; refused once the cost is frozen."""
    value = _amount(amount)
    code = (currency_code or currency()).strip().upper()
    if code != currency():
        raise InvalidInput(f"Costs are kept in {currency()}; convert {code} amounts before entering them.",
                           field="currency")
    description = (description or "").strip()
    if not description:
        raise InvalidInput("Say what the cost is for.", field="description")
    if category not in CostLineCategory.values:
        raise InvalidInput(f"Unknown category {category!r}; use one of {', '.join(CostLineCategory.values)}.",
                           field="category")
    with transaction.atomic():
        if IncidentCost.objects.filter(incident=incident, frozen_at__isnull=False).exists():
            raise CostFrozen("The incident is closed and its cost is frozen.", field="incident")
        line = CostLine.objects.create(incident=incident, amount=value, currency=code,
                                       description=description[:300], category=category, created_by=user)
    incident_cost_refresh(incident=incident)
    return line
