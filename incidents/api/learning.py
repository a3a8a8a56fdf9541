"""API of reviews, action items and incident cost (issue 11): serializers parse, services decide."""
from __future__ import annotations

from django.contrib.auth import get_user_model
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from core.exceptions import InvalidInput, NotFound
from core.models import Service
from incidents.choices import CostLineCategory, ReviewStatus
from incidents.models import ActionItem, CostLine, Incident, PostIncidentReview
from incidents.services import action_items, costs, review_export, reviews

# --- serializers --------------------------------------------------------------------------------


class ActionItemSerializer(serializers.ModelSerializer):
    owner_name = serializers.CharField(source="owner.get_username", read_only=True)
    incident = serializers.IntegerField(source="review.incident_id", read_only=True)
    recurrence = serializers.IntegerField(source="recurrence_id", read_only=True, allow_null=True)

    class Meta:
        model = ActionItem
        fields = ["id", "incident", "title", "owner", "owner_name", "due_date", "priority", "status", "playbook",
                  "service", "model_name", "contributing_factor", "completed_at", "effectiveness", "watch_until",
                  "recurrence", "created_at"]
        read_only_fields = fields


class ActionItemInputSerializer(serializers.Serializer):
    """Everything optional here; the service says which field is missing (owner, due date...)."""

    title = serializers.CharField(required=False, allow_blank=True, max_length=300)
    owner = serializers.IntegerField(required=False, allow_null=True)
    due_date = serializers.DateField(required=False, allow_null=True)
    priority = serializers.CharField(required=False)
    status = serializers.CharField(required=False)
    playbook = serializers.IntegerField(required=False, allow_null=True)
    service = serializers.IntegerField(required=False, allow_null=True)
    model_name = serializers.CharField(required=False, allow_blank=True, max_length=100)
    contributing_factor = serializers.CharField(required=False, allow_blank=True)


class ReviewSerializer(serializers.ModelSerializer):
    action_items = ActionItemSerializer(many=True, read_only=True)
    impact_services: serializers.Field = serializers.SlugRelatedField(slug_field="name", many=True, read_only=True)
    participants: serializers.Field = serializers.PrimaryKeyRelatedField(many=True, read_only=True)
    timeline = serializers.SerializerMethodField()

    class Meta:
        model = PostIncidentReview
        fields = ["id", "incident", "status", "owner", "due_date", "summary", "impact_start", "impact_end",
                  "impact_services", "users_affected", "orders_affected", "contributing_factors", "went_well",
                  "went_badly", "lessons", "participants", "model_section", "created_at", "submitted_at",
                  "submitted_by", "published_at", "published_by", "action_items", "timeline"]
        read_only_fields = fields

    def get_timeline(self, review) -> list[dict]:
        return [{"event": e.event_id, "at": e.at.isoformat(), "kind": e.kind, "actor": e.actor, "message": e.message,
                 "starred": e.starred, "annotation": e.annotation}
                for e in reviews.review_timeline(review=review, starred_first=review.status == ReviewStatus.PUBLISHED)]


class ReviewInputSerializer(serializers.Serializer):
    summary = serializers.CharField(required=False, allow_blank=True)
    impact_start = serializers.DateTimeField(required=False, allow_null=True)
    impact_end = serializers.DateTimeField(required=False, allow_null=True)
    impact_services = serializers.ListField(child=serializers.CharField(), required=False, max_length=100)
    users_affected = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    orders_affected = serializers.IntegerField(required=False, allow_null=True, min_value=0)
    contributing_factors = serializers.JSONField(required=False)
    went_well = serializers.CharField(required=False, allow_blank=True)
    went_badly = serializers.CharField(required=False, allow_blank=True)
    lessons = serializers.CharField(required=False, allow_blank=True)
    participants = serializers.ListField(child=serializers.IntegerField(), required=False, max_length=200)
    owner = serializers.IntegerField(required=False)


class TransitionSerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=ReviewStatus.choices)


class MarkSerializer(serializers.Serializer):
    starred = serializers.BooleanField(required=False, allow_null=True, default=None)
    annotation = serializers.CharField(required=False, allow_blank=True, allow_null=True, default=None,
                                       max_length=2000)


class CostLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = CostLine
        fields = ["id", "category", "description", "amount", "currency", "created_at"]
        read_only_fields = fields


class CostLineInputSerializer(serializers.Serializer):
    # Raw: the service says "not a number" / "negative" naming `amount`, the same for the API and the page.
    amount = serializers.JSONField()
    currency = serializers.CharField(required=False, allow_blank=True, max_length=10)
    description = serializers.CharField(required=False, allow_blank=True, max_length=300)
    category = serializers.ChoiceField(choices=CostLineCategory.choices, required=False,
                                       default=CostLineCategory.OTHER)


# --- helpers ------------------------------------------------------------------------------------


def _incident(incident_id: int) -> Incident:
    return get_object_or_404(Incident.objects.select_related("service__team", "team"), pk=incident_id)


def _review(incident_id: int) -> PostIncidentReview:
    review = PostIncidentReview.objects.filter(incident_id=incident_id).select_related("incident__service").first()
    if review is None:
        raise NotFound("This incident has no review yet; POST to start one.", field="review")
    return review


def review_fields(data: dict) -> dict:
    """Input -> service kwargs: service names and people ids become rows, unknown ones are named."""
    fields = dict(data)
    if "impact_services" in fields:
        names = fields["impact_services"]
        found = list(Service.objects.filter(name__in=names))
        missing = sorted(set(names) - {s.name for s in found})
        if missing:
            raise InvalidInput(f"Unknown service(s): {', '.join(missing)}.", field="impact_services")
        fields["impact_services"] = found
    User = get_user_model()
    if "participants" in fields:
        ids = fields["participants"]
        people = list(User.objects.filter(pk__in=ids, is_active=True))
        missing_ids = sorted(set(ids) - {u.pk for u in people})
        if missing_ids:
            raise InvalidInput(f"Unknown person id(s): {missing_ids}.", field="participants")
        fields["participants"] = people
    if "owner" in fields:
        owner = User.objects.filter(pk=fields["owner"], is_active=True).first()
        if owner is None:
            raise InvalidInput(f"No active person with id {fields['owner']}.", field="owner")
        fields["owner"] = owner
    return fields


# --- views --------------------------------------------------------------------------------------


class IncidentReviewView(APIView):
    """`GET` the incident's review; `POST` starts it (draft); `PATCH` edits it (not once published)."""

    @extend_schema(responses=ReviewSerializer)
    def get(self, request, incident_id: int):
        return Response(ReviewSerializer(_review(incident_id)).data)

    @extend_schema(request=None, responses=ReviewSerializer)
    def post(self, request, incident_id: int):
        review = reviews.review_ensure(incident=_incident(incident_id), user=request.user)
        return Response(ReviewSerializer(review).data, status=status.HTTP_201_CREATED)

    @extend_schema(request=ReviewInputSerializer, responses=ReviewSerializer)
    def patch(self, request, incident_id: int):
        review = _review(incident_id)
        data = ReviewInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = reviews.review_update(review=review, user=request.user, **review_fields(data.validated_data))
        return Response(ReviewSerializer(review).data)


class IncidentReviewTransitionView(APIView):
    """`POST {"status": "in_review" | "published" | "draft"}`; publishing needs a contributing factor."""

    @extend_schema(request=TransitionSerializer, responses=ReviewSerializer)
    def post(self, request, incident_id: int):
        data = TransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        review = reviews.review_transition(review=_review(incident_id), to=data.validated_data["status"],
                                           user=request.user)
        return Response(ReviewSerializer(review).data)


class IncidentReviewMarkView(APIView):
    """`POST {"starred": true, "annotation": "..."}` on one timeline event of the review."""

    @extend_schema(request=MarkSerializer, responses=OpenApiTypes.OBJECT)
    def post(self, request, incident_id: int, event_id: int):
        data = MarkSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        mark = reviews.review_mark_event(review=_review(incident_id), event_id=event_id, user=request.user,
                                         **data.validated_data)
        return Response({"event": mark.event_id, "starred": mark.starred, "annotation": mark.annotation})


class IncidentReviewMarkdownView(APIView):
    """`GET` the review as Markdown (starred timeline events first)."""

    @extend_schema(responses={(200, "text/markdown"): OpenApiTypes.STR})
    def get(self, request, incident_id: int):
        review = _review(incident_id)
        markdown = review_export.review_markdown(review=review)
        response = HttpResponse(markdown, content_type="text/markdown; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="review-incident-{incident_id}.md"'
        return response


class IncidentActionItemsView(APIView):
    """`GET` the review's action items; `POST` adds one (title, owner and due date required)."""

    @extend_schema(responses=ActionItemSerializer(many=True))
    def get(self, request, incident_id: int):
        items = _review(incident_id).action_items.select_related("owner", "review")
        return Response(ActionItemSerializer(items, many=True).data)

    @extend_schema(request=ActionItemInputSerializer, responses=ActionItemSerializer)
    def post(self, request, incident_id: int):
        review = _review(incident_id)
        data = ActionItemInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = action_items.action_item_create(review=review, user=request.user, **data.validated_data)
        return Response(ActionItemSerializer(item).data, status=status.HTTP_201_CREATED)


class ActionItemListView(APIView):
    """`GET /api/v1/action-items/?overdue=1&owner=<id>`: action items across reviews."""

    @extend_schema(responses=ActionItemSerializer(many=True))
    def get(self, request):
        if request.query_params.get("overdue") in ("1", "true"):
            items = action_items.action_items_overdue()
        else:
            items = ActionItem.objects.select_related("owner", "review").order_by("due_date", "id")
        owner = request.query_params.get("owner")
        if owner:
            if not owner.isdigit():
                raise InvalidInput("owner must be a person id.", field="owner")
            items = items.filter(owner_id=int(owner))
        return Response(ActionItemSerializer(items[:500], many=True).data)


class ActionItemDetailView(APIView):
    """`GET` / `PATCH` one action item (status done starts the effectiveness watch)."""

    @extend_schema(responses=ActionItemSerializer)
    def get(self, request, pk: int):
        return Response(ActionItemSerializer(get_object_or_404(ActionItem, pk=pk)).data)

    @extend_schema(request=ActionItemInputSerializer, responses=ActionItemSerializer)
    def patch(self, request, pk: int):
        item = get_object_or_404(ActionItem, pk=pk)
        data = ActionItemInputSerializer(data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        item = action_items.action_item_update(item=item, user=request.user, **data.validated_data)
        return Response(ActionItemSerializer(item).data)


class ReviewListView(APIView):
    """`GET /api/v1/reviews/?overdue=1`: reviews (overdue ones for managers' follow-up)."""

    @extend_schema(responses=ReviewSerializer(many=True))
    def get(self, request):
        if request.query_params.get("overdue") in ("1", "true"):
            qs = reviews.reviews_overdue()
        else:
            qs = PostIncidentReview.objects.select_related("incident").order_by("-created_at")
        return Response([{"id": r.pk, "incident": r.incident_id, "title": r.incident.title, "status": r.status,
                          "owner": r.owner_id, "due_date": r.due_date} for r in qs[:500]])


class IncidentCostView(APIView):
    """`GET` the incident's cost (live while open, frozen once closed) with its manual lines."""

    @extend_schema(responses=OpenApiTypes.OBJECT)
    def get(self, request, incident_id: int):
        incident = _incident(incident_id)
        stored = getattr(incident, "cost", None) if hasattr(incident, "cost") else None
        if stored is not None and stored.frozen_at is not None:
            data = dict(stored.breakdown, frozen_at=stored.frozen_at.isoformat())
        else:
            data = dict(costs.incident_cost_compute(incident=incident, now=timezone.now()).as_data(), frozen_at=None)
        data["lines"] = CostLineSerializer(incident.cost_lines.all(), many=True).data
        return Response(data)


class IncidentCostLinesView(APIView):
    """`POST {"amount": "1250.00", "currency": "EUR", "description": "credits", "category": "credit"}`."""

    @extend_schema(request=CostLineInputSerializer, responses=CostLineSerializer)
    def post(self, request, incident_id: int):
        data = CostLineInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        v = data.validated_data
        line = costs.cost_line_add(incident=_incident(incident_id), user=request.user, amount=v["amount"],
                                   description=v.get("description", ""), currency_code=v.get("currency") or None,
                                   category=v["category"])
        return Response(CostLineSerializer(line).data, status=status.HTTP_201_CREATED)
