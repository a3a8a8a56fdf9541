"""The incident page's `cost` and `review` panels (issue 11), registered in IncidentsConfig.ready."""
from __future__ import annotations

from django.utils import timezone

from .choices import ActionItemStatus, ContributingFactor, ReviewStatus
from .models import CostLine, IncidentCost, PostIncidentReview
from .panels import Panel, panel_register
from .services import costs, reviews


@panel_register("cost")
def cost_panel(*, incident, user) -> Panel:
    """Live while the incident is open; the stored, frozen figures once it is closed."""
    stored = IncidentCost.objects.filter(incident=incident, frozen_at__isnull=False).first()
    if stored is not None:
        data = dict(stored.breakdown, frozen_at=stored.frozen_at.isoformat() if stored.frozen_at else None)
    else:
        data = dict(costs.incident_cost_compute(incident=incident, now=timezone.now()).as_data(), frozen_at=None)
    data["lines"] = [{"description": line.description, "amount": str(line.amount), "category": line.category}
                     for line in CostLine.objects.filter(incident=incident)]
    return Panel(key="cost", title=f"Cost so far ({data['currency']})" if not data["frozen_at"] else
                 f"Cost ({data['currency']}, frozen)", template="incidents/panels/_cost.html", data=data, order=40)


@panel_register("review")
def review_panel(*, incident, user) -> Panel | None:
    review = PostIncidentReview.objects.filter(incident=incident).select_related("owner").first()
    required = reviews.review_required(incident=incident)
    if review is None and not required and incident.resolved_at is None:
        return None  # a Level 3/4 incident still open: nothing to say yet
    data: dict = {"required": required, "status": None}
    if review is not None:
        items = list(review.action_items.values_list("status", flat=True))
        data.update({
            "status": review.status, "status_label": ReviewStatus(review.status).label,
            "due_date": review.due_date.isoformat() if review.due_date else None,
            "owner": review.owner.get_username() if review.owner else None,
            "factors": [ContributingFactor(k).label for k in review.factor_keys if k in ContributingFactor.values],
            "action_items": len(items), "action_items_done": sum(1 for s in items if s == ActionItemStatus.DONE),
            "url": f"/incidents/{incident.pk}/review/",
        })
    return Panel(key="review", title="Post-incident review", template="incidents/panels/_review.html", data=data,
                 order=60)
