"""The demo scenario `make run` loads: people, teams, services, and each app's demo data."""
from __future__ import annotations

from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import transaction

from core.choices import Role, Tier
from core.services import service_get_or_create, service_set_dependencies, team_get_or_create
from incidents import demo as incidents_demo
from incidents import demo_learning as incidents_learning_demo
from models_registry import demo as models_registry_demo
from models_registry import demo_console as models_registry_console_demo
from models_registry import demo_costs as models_registry_costs_demo
from models_registry import demo_monitors as models_registry_monitors_demo
from models_registry import demo_operations as models_registry_operations_demo
from monitoring import demo as monitoring_demo
from monitoring import demo_insights as insights_demo

from . import demo_drills

DEMO_PASSWORD = "aiops-demo"  # printed by `manage.py demo`; the demo is for laptops only


@dataclass(frozen=True, slots=True, kw_only=True)
class DemoPerson:
    username: str
    roles: tuple[str, ...]
    superuser: bool = False


PEOPLE = (
    DemoPerson(username="admin", roles=(Role.ADMIN, Role.OPERATOR), superuser=True),
    DemoPerson(username="olivia", roles=(Role.OPERATOR,)),
    DemoPerson(username="max", roles=(Role.MANAGER,)),
    DemoPerson(username="erin", roles=(Role.EXECUTIVE,)),
)


@transaction.atomic
def load_organisation() -> dict:
    User = get_user_model()
    users = {}
    for person in PEOPLE:
        user, created = User.objects.get_or_create(
            username=person.username,
            defaults={"email": f"{person.username}@example.com", "is_staff": person.superuser,
                      "is_superuser": person.superuser},
        )
        if created:
            user.set_password(DEMO_PASSWORD)
            user.save()
        user.groups.add(*Group.objects.filter(name__in=person.roles))
        users[person.username] = user
    platform = team_get_or_create(name="Platform", email="platform@example.com")
    journeys = team_get_or_create(name="Journeys", email="journeys@example.com")
    data = team_get_or_create(name="Data Science", email="ds@example.com")
    platform.members.add(users["olivia"], users["admin"])
    journeys.members.add(users["olivia"])
    data.members.add(users["admin"])
    db = service_get_or_create(name="postgres-main", team=platform, tier=Tier.TIER_1, downtime_cost_per_minute=400)
    api = service_get_or_create(name="checkout-api", team=journeys, tier=Tier.TIER_1, downtime_cost_per_minute=1200)
    web = service_get_or_create(name="web-frontend", team=journeys, tier=Tier.TIER_2, downtime_cost_per_minute=300)
    eta = service_get_or_create(name="journey-eta-model", team=data, tier=Tier.TIER_2, downtime_cost_per_minute=150)
    batch = service_get_or_create(name="reporting-batch", team=data, tier=Tier.TIER_4, downtime_cost_per_minute=5)
    service_set_dependencies(service=api, depends_on=[db, eta])
    service_set_dependencies(service=web, depends_on=[api])
    service_set_dependencies(service=batch, depends_on=[db])
    return {"users": users, "teams": [platform, journeys, data], "services": [db, api, web, eta, batch]}


# Each app adds a callable `(stdout) -> None` here as it grows a demo: the shell wires apps together.
STEPS: list = []
STEPS.append(models_registry_demo.run)
# Learning (issue 11): a closed incident of six weeks ago with its published review, action items (held,
# recurred) and cost. Before the incident core's history, which plays the last days back.
STEPS.append(incidents_learning_demo.run)
# Issue 13: resolved past incidents of the storm's fault (similar incidents), before the replay reaches them.
STEPS.append(insights_demo.run)
# Incident core: incidents of every level with grouped alerts, a silence and a flapping alert. It plays
# days of history back with their arrival times, so it runs before anything arrives "now": correlation
# windows run on arrival, and a live incident would otherwise sit in the replayed history's window.
STEPS.append(incidents_demo.run)
# Telemetry: seasonal history and a checkout fault that raises an incident (before the response step).
STEPS.append(monitoring_demo.run)
# Alert intake: an Alertmanager group and a PagerDuty event on their own service, stored and drained.
STEPS.append(monitoring_demo.run_alert_intake)
# After the incident demo (if any): playbooks attached, pages in the in-app list and var/mail, a digest.
STEPS.append(incidents_demo.run_response)
# Last: a month of predictions and actuals through the monitors (a breach opens a model incident).
STEPS.append(models_registry_monitors_demo.run)
# issue 12: a model alert after the monitors ran, so an incident page shows the model panel.
STEPS.append(models_registry_console_demo.run)
# Issue 13: a disk heading for its limit (time to exhaustion), after the replays: its signal arrives now.
STEPS.append(insights_demo.run_capacity)
# After the monitors' month of predictions: a FOCUS cost ledger, ROI and money signals for the models (#11).
STEPS.append(models_registry_costs_demo.run)
# Issue #14, after the month of predictions: at-risk lists, a challenger in shadow, the weekly model report.
STEPS.append(models_registry_operations_demo.run)
# A Level 2 drill, paged and acknowledged, so the drills page shows what a drill measures.
STEPS.append(demo_drills.run)
