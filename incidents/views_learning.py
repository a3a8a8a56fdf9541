"""Pages of reviews, action items and incident cost (issue 11): the review editor (draft -> in review ->
published, starred and annotated timeline, action items, cost lines), its Markdown, the overdue list."""
from __future__ import annotations

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from core.choices import Role
from core.exceptions import DomainError
from core.models import Service
from core.selectors import user_has_role

from .choices import (
    ActionItemPriority,
    ActionItemStatus,
    ContributingFactor,
    CostLineCategory,
    ReviewStatus,
)
from .models import ActionItem, Incident, Playbook, PostIncidentReview
from .services import action_items, costs, review_export, reviews

DATETIME_INPUT = ["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%S"]


def _can_act(user) -> bool:
    return user_has_role(user, Role.OPERATOR, Role.ADMIN)


def _require_act(request) -> None:
    if not _can_act(request.user):
        raise PermissionDenied("Only operators and admins edit reviews, action items and costs.")


def _people():
    return get_user_model().objects.filter(is_active=True).order_by("username")


class ReviewForm(forms.Form):
    summary = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 4}))
    impact_start = forms.DateTimeField(required=False, input_formats=DATETIME_INPUT)
    impact_end = forms.DateTimeField(required=False, input_formats=DATETIME_INPUT)
    users_affected = forms.IntegerField(required=False, min_value=0)
    orders_affected = forms.IntegerField(required=False, min_value=0)
    went_well = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    went_badly = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))
    lessons = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}))


def _review_context(incident: Incident, review: PostIncidentReview | None, user, **extra) -> dict:
    published = review is not None and review.status == ReviewStatus.PUBLISHED
    stored = getattr(incident, "cost", None) if hasattr(incident, "cost") else None
    cost = (stored.breakdown if stored is not None and stored.frozen_at is not None
            else costs.incident_cost_compute(incident=incident).as_data())
    factors = {f["category"]: f.get("text", "") for f in (review.contributing_factors if review else [])}
    default_start, default_end = reviews.review_impact_defaults(incident=incident)
    return {
        "incident": incident, "review": review, "can_act": _can_act(user), "editable": review is not None
        and not published, "published": published,
        "timeline": reviews.review_timeline(review=review, starred_first=published) if review else [],
        "factors": [(key, label, key in factors, factors.get(key, "")) for key, label in ContributingFactor.choices],
        "items": review.action_items.select_related("owner", "recurrence", "service", "playbook").all()
        if review else [],
        "people": _people(), "services": Service.objects.order_by("name"),
        "playbooks": Playbook.objects.order_by("name"), "priorities": ActionItemPriority.choices,
        "item_statuses": ActionItemStatus.choices, "categories": CostLineCategory.choices,
        "cost": cost, "cost_frozen": stored is not None and stored.frozen_at is not None,
        "cost_lines": incident.cost_lines.all(), "currency": costs.currency(),
        "default_start": default_start, "default_end": default_end,
        "impact_service_ids": set(review.impact_services.values_list("pk", flat=True)) if review else set(),
        "participant_ids": set(review.participants.values_list("pk", flat=True)) if review else set(),
        "errors": extra.pop("errors", {}), **extra,
    }


def _incident(pk: int) -> Incident:
    return get_object_or_404(Incident.objects.select_related("service__team", "team"), pk=pk)


def _page(request, incident: Incident, *, errors: dict | None = None, status: int = 200):
    review = PostIncidentReview.objects.filter(incident=incident).first()
    return render(request, "incidents/review.html", _review_context(incident, review, request.user, errors=errors),
                  status=status)


@require_GET
def review_page(request, pk: int):
    return _page(request, _incident(pk))


@require_POST
def review_start(request, pk: int):
    _require_act(request)
    reviews.review_ensure(incident=_incident(pk), user=request.user)
    return redirect("incidents:review", pk=pk)


def _failed(request, incident: Incident, exc: DomainError):
    return _page(request, incident, errors={exc.field or "form": exc.message},
                 status=exc.status_code if 400 <= exc.status_code < 500 else 400)


@require_POST
def review_save(request, pk: int):
    _require_act(request)
    incident = _incident(pk)
    review = get_object_or_404(PostIncidentReview, incident=incident)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        errors = {k: "; ".join(str(e) for e in v) for k, v in form.errors.items()}
        return _page(request, incident, errors=errors, status=400)
    data = dict(form.cleaned_data)
    data["contributing_factors"] = [
        {"category": key, "text": request.POST.get(f"factor_{key}_text", "")}
        for key in ContributingFactor.values if request.POST.get(f"factor_{key}")
    ]
    data["impact_services"] = list(Service.objects.filter(pk__in=_ids(request.POST.getlist("impact_services"))))
    data["participants"] = list(_people().filter(pk__in=_ids(request.POST.getlist("participants"))))
    owner = request.POST.get("owner")
    if owner and owner.isdigit():
        data["owner"] = _people().filter(pk=int(owner)).first()
    try:
        reviews.review_update(review=review, user=request.user, **data)
    except DomainError as exc:
        return _failed(request, incident, exc)
    messages.success(request, "Review saved.")
    return redirect("incidents:review", pk=pk)


def _ids(values: list[str]) -> list[int]:
    return [int(v) for v in values if v.isdigit()]


@require_POST
def review_status(request, pk: int):
    _require_act(request)
    incident = _incident(pk)
    review = get_object_or_404(PostIncidentReview, incident=incident)
    try:
        reviews.review_transition(review=review, to=request.POST.get("status", ""), user=request.user)
    except DomainError as exc:
        return _failed(request, incident, exc)
    messages.success(request, "Review status changed.")
    return redirect("incidents:review", pk=pk)


@require_POST
def review_mark(request, pk: int, event_id: int):
    _require_act(request)
    incident = _incident(pk)
    review = get_object_or_404(PostIncidentReview, incident=incident)
    try:
        reviews.review_mark_event(review=review, event_id=event_id, user=request.user,
                                  starred=request.POST.get("starred") == "1",
                                  annotation=request.POST.get("annotation", ""))
    except DomainError as exc:
        return _failed(request, incident, exc)
    return redirect(f"/incidents/{pk}/review/#event-{event_id}")


@require_GET
def review_markdown(request, pk: int):
    review = get_object_or_404(PostIncidentReview.objects.select_related("incident__service"), incident_id=pk)
    response = HttpResponse(review_export.review_markdown(review=review), content_type="text/markdown; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="review-incident-{pk}.md"'
    return response


@require_POST
def action_item_add(request, pk: int):
    _require_act(request)
    incident = _incident(pk)
    review = get_object_or_404(PostIncidentReview, incident=incident)
    values = {name: request.POST.get(name, "") for name in ("title", "owner", "due_date", "priority", "playbook",
                                                            "service", "model_name", "contributing_factor")}
    values["priority"] = values["priority"] or ActionItemPriority.MEDIUM
    try:
        action_items.action_item_create(review=review, user=request.user, **values)
    except DomainError as exc:
        return _failed(request, incident, exc)
    messages.success(request, "Action item added.")
    return redirect("incidents:review", pk=pk)


@require_POST
def action_item_status(request, item_id: int):
    _require_act(request)
    item = get_object_or_404(ActionItem.objects.select_related("review"), pk=item_id)
    try:
        action_items.action_item_update(item=item, user=request.user, status=request.POST.get("status", ""))
    except DomainError as exc:
        return _failed(request, _incident(item.review.incident_id), exc)
    return redirect("incidents:review", pk=item.review.incident_id)


@require_POST
def cost_line_add(request, pk: int):
    _require_act(request)
    incident = _incident(pk)
    try:
        costs.cost_line_add(incident=incident, user=request.user, amount=request.POST.get("amount", ""),
                            description=request.POST.get("description", ""),
                            currency_code=request.POST.get("currency") or None,
                            category=request.POST.get("category") or CostLineCategory.OTHER)
    except DomainError as exc:
        return _failed(request, incident, exc)
    messages.success(request, "Cost line added.")
    return redirect("incidents:review", pk=pk)


@require_GET
def overdue(request):
    """Managers' follow-up: reviews and action items past their due date."""
    today = timezone.localdate()
    return render(request, "incidents/overdue.html", {
        "reviews": reviews.reviews_overdue(today=today)[:500],
        "items": action_items.action_items_overdue(today=today)[:500], "today": today,
    })
