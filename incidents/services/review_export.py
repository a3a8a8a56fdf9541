"""A post-incident review as Markdown: what a team pastes into its wiki or attaches to a ticket."""
from __future__ import annotations

from incidents.choices import ContributingFactor
from incidents.models import PostIncidentReview

from .reviews import review_impact_defaults, review_timeline


def review_markdown(*, review: PostIncidentReview) -> str:
    incident = review.incident
    start, end = review_impact_defaults(incident=incident)
    lines = [
        f"# Post-incident review: #{incident.pk} {incident.title}",
        "",
        f"- Level: {incident.severity} · Service: {incident.service.name}",
        f"- Status: {review.get_status_display()}"
        + (f" (published {review.published_at:%Y-%m-%d %H:%M} UTC by {review.published_by})"
           if review.published_at else ""),
        f"- Owner: {review.owner or '—'} · Due: {review.due_date or '—'}",
        f"- Impact: {(review.impact_start or start):%Y-%m-%d %H:%M} to "
        + (f"{(review.impact_end or end):%Y-%m-%d %H:%M} UTC" if (review.impact_end or end) else "ongoing"),
    ]
    services = ", ".join(s.name for s in review.impact_services.all())
    if services:
        lines.append(f"- Services affected: {services}")
    if review.users_affected is not None:
        lines.append(f"- Users affected: {review.users_affected}")
    if review.orders_affected is not None:
        lines.append(f"- Orders affected: {review.orders_affected}")
    lines += ["", "## Summary", "", review.summary or "_(none)_", "", "## Contributing factors", ""]
    for factor in review.contributing_factors or []:
        label = ContributingFactor(factor["category"]).label if factor.get("category") in ContributingFactor.values \
            else factor.get("category")
        lines.append(f"- **{label}**" + (f": {factor.get('text')}" if factor.get("text") else ""))
    for title, text in (("What went well", review.went_well), ("What went badly", review.went_badly),
                        ("Lessons", review.lessons)):
        lines += ["", f"## {title}", "", text or "_(none)_"]
    section = review.model_section or {}
    if section.get("monitors"):
        lines += ["", "## Model", ""]
        for m in section["monitors"]:
            figures = ", ".join(f"{k}={v}" for k, v in sorted((m.get("metrics") or {}).items())[:8])
            lines.append(f"- {m['model']} v{m['version']} {m['monitor']}: {m['status']}" + (f" ({figures})"
                                                                                          if figures else ""))
        for a in section.get("actions", []):
            lines.append(f"- {a['at'][:16]} {a['message']}")
    lines += ["", "## Timeline", ""]
    for entry in review_timeline(review=review, starred_first=True):
        star = "★ " if entry.starred else ""
        note = f" — _{entry.annotation}_" if entry.annotation else ""
        lines.append(f"- {star}{entry.at:%Y-%m-%d %H:%M:%S} [{entry.kind_label}] {entry.actor}: {entry.message}{note}")
    items = list(review.action_items.select_related("owner").all())
    if items:
        lines += ["", "## Action items", "", "| Title | Owner | Due | Priority | Status | Effectiveness |",
                  "|---|---|---|---|---|---|"]
        for item in items:
            lines.append(f"| {item.title} | {item.owner} | {item.due_date} | {item.get_priority_display()} | "
                         f"{item.get_status_display()} | {item.get_effectiveness_display()} |")
    return "\n".join(lines) + "\n"
