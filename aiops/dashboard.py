"""Dashboards and reports that span apps: the shell is the one place that reads them all."""
from __future__ import annotations

from dataclasses import dataclass

from core.models import Integration, Service, Team


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
    ]


def report_context() -> dict:
    return {"services": Service.objects.select_related("team").order_by("tier", "name")}
