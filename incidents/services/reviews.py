"""Post-incident reviews: creation with a due date in business days, editing, draft -> in review -> published,
the generated timeline with stars and notes, the model section and owner reminders (the Markdown export is
`review_export`)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError, InvalidInput
from incidents.choices import (
    REVIEW_TRANSITIONS,
    ContributingFactor,
    ReviewStatus,
    SourceKind,
    TimelineKind,
)
from incidents.models import Alert, Incident, PostIncidentReview, ReviewTimelineMark, TimelineEvent

from .costs import incident_cost_refresh
from .reminders import person_remind

FACTOR_TEXT_MAX = 2000  # a paragraph per factor; the long story goes in the summary
MAX_FACTORS = 20  # more than this is a list of symptoms, not of contributing factors
TEXT_FIELDS = ("summary", "went_well", "went_badly", "lessons")
MODEL_ACTION_WORDS = ("retrain", "rollback", "roll back", "promot", "gate", "champion")  # playbook steps on models


class ReviewLocked(DomainError):
    status_code = 409
    code = "review_published"


class IllegalReviewTransition(DomainError):
    status_code = 409
    code = "illegal_review_transition"


# --- due dates in business days ---------------------------------------------------------------


def business_days_add(*, start: date, days: int) -> date:
    """`days` business days after `start` (Saturday and Sunday skipped; a weekend start counts from Monday)."""
    current = start
    added = 0
    while added < days:
        current += timedelta(days=1)
        if current.weekday() < 5:
            added += 1
    return current


def business_days_before(*, end: date, days: int) -> date:
    current = end
    removed = 0
    while removed < days:
        current -= timedelta(days=1)
        if current.weekday() < 5:
            removed += 1
    return current


def incident_time_zone(incident: Incident) -> ZoneInfo:
    team = incident.team if incident.team_id else incident.service.team
    try:
        return ZoneInfo((team.time_zone if team is not None else "") or "UTC")
    except Exception:  # a zone removed from tzdata since it was validated: fall back, never fail a reminder
        return ZoneInfo("UTC")


def review_due_date(*, incident: Incident) -> date | None:
    """Due REVIEW_DUE_BUSINESS_DAYS business days after the resolution day in the team's time zone."""
    if incident.resolved_at is None:
        return None
    local_day = incident.resolved_at.astimezone(incident_time_zone(incident)).date()
    return business_days_add(start=local_day, days=settings.REVIEW_DUE_BUSINESS_DAYS)


def review_required(*, incident: Incident) -> bool:
    return incident.severity in settings.REVIEW_REQUIRED_LEVELS


def review_close_block_reason(*, incident: Incident) -> str:
    """Why the incident may not be closed for want of a review; "" when it may."""
    if not review_required(incident=incident):
        return ""
    published = PostIncidentReview.objects.filter(incident=incident, status=ReviewStatus.PUBLISHED).exists()
    if published:
        return ""
    return (f"A Level {incident.severity} incident can be resolved but not closed without a published "
            "post-incident review.")


# --- creating and editing ---------------------------------------------------------------------


def _default_owner(incident: Incident):
    return incident.assignee or incident.resolved_by or incident.acknowledged_by


def review_ensure(*, incident: Incident | int, user: Any = None) -> PostIncidentReview:
    """The incident's review, created as a draft (owner, due date, model section) when it has none yet."""
    obj = incident if isinstance(incident, Incident) else Incident.objects.select_related(
        "service__team", "team").get(pk=incident)
    review, created = PostIncidentReview.objects.get_or_create(
        incident=obj,
        defaults={"owner": _default_owner(obj) or user, "due_date": review_due_date(incident=obj),
                  "model_section": review_model_section(incident=obj)},
    )
    if not created and review.status != ReviewStatus.PUBLISHED:
        due = review_due_date(incident=obj)
        if due is not None and review.due_date != due:
            # Resolved again after a reopen: the clock starts from the last resolution.
            PostIncidentReview.objects.filter(pk=review.pk).update(due_date=due)
            review.due_date = due
    return review


def factors_clean(raw: Any) -> list[dict[str, str]]:
    """`[{"category": key, "text": str}]` from the taxonomy, or InvalidInput naming the bad row."""
    if raw in (None, ""):
        return []
    if not isinstance(raw, list):
        raise InvalidInput("contributing_factors must be a list of {category, text}.", field="contributing_factors")
    if len(raw) > MAX_FACTORS:
        raise InvalidInput(f"At most {MAX_FACTORS} contributing factors.", field="contributing_factors")
    cleaned = []
    for index, item in enumerate(raw):
        if not isinstance(item, dict):
            raise InvalidInput(f"Factor {index + 1} must be an object with category and text.",
                               field="contributing_factors")
        category = str(item.get("category", "")).strip()
        if category not in ContributingFactor.values:
            raise InvalidInput(f"Factor {index + 1}: unknown category {category!r}; use one of "
                               f"{', '.join(ContributingFactor.values)}.", field="contributing_factors")
        text = item.get("text", "")
        if not isinstance(text, str) or len(text) > FACTOR_TEXT_MAX:
            raise InvalidInput(f"Factor {index + 1}: text must be a string of at most {FACTOR_TEXT_MAX} characters.",
                               field="contributing_factors")
        cleaned.append({"category": category, "text": text.strip()})
    return cleaned


def review_update(*, review: PostIncidentReview, user: Any, **fields: Any) -> PostIncidentReview:
    """Change any of the review's fields; everything is checked before anything is stored."""
    if review.status == ReviewStatus.PUBLISHED:
        raise ReviewLocked("A published review cannot be changed.", field="status")
    values: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        if name in fields and fields[name] is not None:
            values[name] = str(fields[name])[:20_000]
    if "contributing_factors" in fields:
        values["contributing_factors"] = factors_clean(fields["contributing_factors"])
    for name in ("impact_start", "impact_end"):
        if name in fields:
            values[name] = fields[name]
    start = values.get("impact_start", review.impact_start)
    end = values.get("impact_end", review.impact_end)
    if start and end and end < start:
        raise InvalidInput("The impact cannot end before it starts.", field="impact_end")
    for name in ("users_affected", "orders_affected"):
        if name in fields:
            value = fields[name]
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
                raise InvalidInput(f"{name} must be a whole number of at least 0.", field=name)
            values[name] = value
    if "owner" in fields and fields["owner"] is not None:
        values["owner"] = fields["owner"]
    with transaction.atomic():
        for name, value in values.items():
            setattr(review, name, value)
        review.save()
        if "impact_services" in fields and fields["impact_services"] is not None:
            review.impact_services.set(fields["impact_services"])
        if "participants" in fields and fields["participants"] is not None:
            review.participants.set(fields["participants"])
    incident_cost_refresh(incident=review.incident_id)  # impact window, services and participants move it
    return review


def review_transition(*, review: PostIncidentReview, to: str, user: Any) -> PostIncidentReview:
    """draft -> in review -> published (in review may go back to draft); publishing needs a contributing factor."""
    if to not in REVIEW_TRANSITIONS.get(review.status, frozenset()):
        label = ReviewStatus(to).label.lower() if to in ReviewStatus.values else to
        raise IllegalReviewTransition(f"A {review.get_status_display().lower()} review cannot become {label}.",
                                      field="status")
    now = timezone.now()
    if to == ReviewStatus.PUBLISHED:
        if not review.contributing_factors:
            raise InvalidInput("Name at least one contributing factor before publishing.",
                               field="contributing_factors")
        if not review.summary.strip():
            raise InvalidInput("Write a summary before publishing.", field="summary")
    with transaction.atomic():
        locked = PostIncidentReview.objects.select_for_update().get(pk=review.pk)
        if locked.status != review.status:
            raise IllegalReviewTransition("The review changed meanwhile; reload it.", field="status")
        locked.status = to
        if to == ReviewStatus.IN_REVIEW:
            locked.submitted_at, locked.submitted_by = now, user
        elif to == ReviewStatus.PUBLISHED:
            locked.published_at, locked.published_by = now, user
            locked.model_section = review_model_section(incident=locked.incident) or locked.model_section
        locked.save()
    if to == ReviewStatus.PUBLISHED:
        incident_cost_refresh(incident=locked.incident_id)
    review.refresh_from_db()  # the caller's object follows, so a second step needs no reload
    return review


# --- the generated timeline -------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class ReviewTimelineEntry:
    event_id: int
    at: datetime
    kind: str
    kind_label: str
    actor: str
    message: str
    starred: bool
    annotation: str


def review_timeline(*, review: PostIncidentReview, starred_first: bool = False) -> list[ReviewTimelineEntry]:
    """Every event of the incident (alerts, levels, acks, notes, playbook steps, deliveries) with the marks."""
    marks = {m.event_id: m for m in ReviewTimelineMark.objects.filter(review=review)}
    entries = []
    for event in TimelineEvent.objects.filter(incident_id=review.incident_id).order_by("at", "id"):
        mark = marks.get(event.pk)
        entries.append(ReviewTimelineEntry(
            event_id=event.pk, at=event.at, kind=event.kind, kind_label=event.get_kind_display(),
            actor=event.actor_name, message=event.message, starred=bool(mark and mark.starred),
            annotation=mark.annotation if mark else "",
        ))
    if starred_first:
        entries.sort(key=lambda e: (not e.starred, e.at, e.event_id))
    return entries


def review_mark_event(*, review: PostIncidentReview, event_id: int, user: Any, starred: bool | None = None,
                      annotation: str | None = None) -> ReviewTimelineMark:
    if review.status == ReviewStatus.PUBLISHED:
        raise ReviewLocked("A published review cannot be changed.", field="status")
    if not TimelineEvent.objects.filter(pk=event_id, incident_id=review.incident_id).exists():
        raise InvalidInput(f"Event {event_id} is not on this incident's timeline.", field="event")
    if annotation is not None and len(annotation) > FACTOR_TEXT_MAX:
        raise InvalidInput(f"An annotation has at most {FACTOR_TEXT_MAX} characters.", field="annotation")
    mark, _ = ReviewTimelineMark.objects.get_or_create(review=review, event_id=event_id)
    if starred is not None:
        mark.starred = starred
    if annotation is not None:
        mark.annotation = annotation.strip()
    mark.save()
    return mark


def review_impact_defaults(*, incident: Incident) -> tuple[datetime, datetime | None]:
    """Impact start/end from the timeline: the first alert's first signal (or the opening) to the resolution."""
    first = Alert.objects.filter(incident=incident).order_by("first_seen").values_list("first_seen", flat=True).first()
    start = min(first, incident.opened_at) if first else incident.opened_at
    return start, incident.resolved_at


# --- the model section ------------------------------------------------------------------------

ModelFactsProvider = Callable[..., dict[str, Any]]
_MODEL_FACTS: dict[str, ModelFactsProvider] = {}


def model_facts_register(name: str) -> Callable[[ModelFactsProvider], ModelFactsProvider]:
    """Register `func(*, incident, models: list[str]) -> dict` adding facts to the model section
    (e.g. models_registry's gate decisions); incidents never imports the app that registers it."""

    def decorate(func: ModelFactsProvider) -> ModelFactsProvider:
        _MODEL_FACTS[name] = func
        return func

    return decorate


def review_model_section(*, incident: Incident) -> dict[str, Any]:
    """For a model incident: the monitors that breached with their figures, drift evidence, and the
    retrains, rollbacks and gate decisions of the episode, from the signals and timeline the incident holds."""
    alerts = list(Alert.objects.filter(incident=incident, source_kind=SourceKind.MODEL).order_by("first_seen", "id"))
    if not alerts:
        return {}
    monitors, drift, model_names = [], [], []
    for alert in alerts:
        payload = alert.payload if isinstance(alert.payload, dict) else {}
        name = str(payload.get("model") or alert.labels.get("model", ""))
        if name and name not in model_names:
            model_names.append(name)
        entry = {
            "model": name, "version": payload.get("version", alert.labels.get("version", "")),
            "monitor": str(payload.get("monitor") or alert.labels.get("monitor", "")),
            "status": str(payload.get("status", alert.status)), "metrics": payload.get("metrics", {}),
            "period_start": payload.get("period_start", ""), "period_end": payload.get("period_end", ""),
            "first_seen": alert.first_seen.isoformat(), "title": alert.title,
        }
        monitors.append(entry)
        if "drift" in entry["monitor"]:
            drift.append(entry)
    actions = [
        {"at": e.at.isoformat(), "message": e.message, "data": e.data}
        for e in TimelineEvent.objects.filter(incident=incident, kind=TimelineKind.PLAYBOOK_STEP).order_by("at", "id")
        if any(word in e.message.lower() for word in MODEL_ACTION_WORDS)
    ]
    section: dict[str, Any] = {"models": model_names, "monitors": monitors, "drift": drift, "actions": actions}
    for name, provider in sorted(_MODEL_FACTS.items()):
        try:
            section[name] = provider(incident=incident, models=model_names)
        except Exception:  # a provider's fault must not stop the review
            section[name] = {"error": "unavailable"}
    return section


# --- reminders --------------------------------------------------------------------------------


def reviews_overdue(*, today: date | None = None):
    """Unpublished reviews past their due date (managers' list), oldest first."""
    today = today or timezone.localdate()
    return (PostIncidentReview.objects.exclude(status=ReviewStatus.PUBLISHED)
            .filter(due_date__lt=today).select_related("incident", "owner").order_by("due_date", "id"))


def reviews_remind(*, now: datetime | None = None) -> int:
    """Beat: remind owners one business day before, on, and (daily) after the due date, in the team's zone."""
    now = now or timezone.now()
    sent = 0
    pending = (PostIncidentReview.objects.exclude(status=ReviewStatus.PUBLISHED).exclude(due_date=None)
               .exclude(owner=None).select_related("incident__service__team", "incident__team", "owner"))
    for review in pending:
        assert review.due_date is not None
        today = now.astimezone(incident_time_zone(review.incident)).date()
        due = review.due_date
        if today == business_days_before(end=due, days=1):
            occasion, wording = "before", f"is due tomorrow ({due})" if (due - today).days == 1 else f"is due {due}"
        elif today == due:
            occasion, wording = "on", "is due today"
        elif today > due:
            occasion, wording = f"after:{today}", f"was due {due} and is {(today - due).days} day(s) overdue"
        else:
            continue
        incident = review.incident
        sent += person_remind(
            user=review.owner, scope=f"review{review.pk}:{occasion}", incident_id=incident.pk,
            subject=f"[AIOps] Review of incident #{incident.pk} {wording}",
            text=f"The post-incident review of “{incident.title}” (Level {incident.severity}) {wording}.",
            path=f"/incidents/{incident.pk}/review/",
        )
    return sent
