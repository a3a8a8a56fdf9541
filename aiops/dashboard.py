"""Dashboards and reports that span apps: the shell is the one place that reads them all."""
from __future__ import annotations

from dataclasses import dataclass

from core.models import Integration, Service, Team
from models_registry.selectors import monitor_breaching_models, registry_summary


@dataclass(frozen=True, slots=True, kw_only=True)
class Card:
    title: str
    value: str
    link: str = ""
    note: str = ""


def dashboard_cards() -> list[Card]:
    return [
        Card(title="Services", value=str(Service.objects.count()), link="/admin/core/service/"),
        Card(title="Teams", value=str(Team.objects.count()), link="/admin/core/team/"),
        Card(
            title="Active integrations",
            value=str(Integration.objects.filter(revoked_at__isnull=True).count()),
            link="/admin/core/integration/",
        ),
        _models_card(),
    ]


def _models_card() -> Card:
    summary = registry_summary()
    note = "champions / registered"
    if summary.failed_runs_7d:
        note += f" · {summary.failed_runs_7d} failed training run(s) this week"
    breaching = monitor_breaching_models()
    if breaching:
        note += f" · monitors breaching: {', '.join(breaching)}"
    return Card(title="Models serving", value=f"{summary.serving}/{summary.registered}", link="/models/", note=note)


def report_context() -> dict:
    return {"services": Service.objects.select_related("team").order_by("tier", "name")}
