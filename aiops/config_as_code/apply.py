"""Configuration as code, `config_apply`: validate the whole file, plan every change, then write them in one
transaction (or only report them: dry run), each recorded in the audit log."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.utils.dateparse import parse_datetime

from core.choices import IntegrationKind
from core.models import AuditEntry, Integration, Service, Team
from core.services import integration_create
from incidents.models import EscalationStep, NotificationPolicy, Playbook, PlaybookStep, Silence

from .export import (
    _ESCALATION_FIELDS,
    _INTEGRATION_FIELDS,
    _PLAYBOOK_FIELDS,
    _POLICY_FIELDS,
    _SERVICE_FIELDS,
    _STEP_FIELDS,
    _TEAM_FIELDS,
    SECTIONS,
    ApplyResult,
    Change,
    ConfigError,
    _fields,
    _plain,
)


@dataclass
class _Plan:
    changes: list[Change] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    writes: list[Callable[..., object]] = field(default_factory=list)  # run with no arguments
    tokens: dict[str, str] = field(default_factory=dict)


def _diff(obj: models.Model | None, wanted: dict[str, Any], names: Iterable[str]) -> dict[str, tuple[Any, Any]]:
    out = {}
    for name in names:
        if name not in wanted:
            continue
        before = _plain(getattr(obj, name)) if obj is not None else None
        after = _plain(wanted[name])
        if before != after:
            out[name] = (before, after)
    return out


def _validated(model: type[models.Model], values: dict[str, Any], where: str, plan: _Plan,
               exclude: Iterable[str] = ()) -> bool:
    """Run the model's field validation on `values` (unsaved instance); errors name the entry and field."""
    try:
        model(**values).clean_fields(exclude=[*exclude])
    except ValidationError as exc:
        for name, messages in exc.message_dict.items():
            plan.errors.extend(f"{where}.{name}: {message}" for message in messages)
        return False
    return True


def _entries(data: dict[str, Any], section: str, plan: _Plan) -> list[dict[str, Any]]:
    items = data.get(section) or []
    if not isinstance(items, list):
        plan.errors.append(f"{section}: must be a list")
        return []
    good = []
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            plan.errors.append(f"{section}[{index}]: must be a mapping")
        else:
            good.append(item)
    return good


def _unknown_keys(item: dict[str, Any], allowed: Iterable[str], where: str, plan: _Plan) -> None:
    extra = sorted(set(item) - set(allowed))
    if extra:
        plan.errors.append(f"{where}: unknown field(s) {', '.join(extra)}")


def _plan_teams(data, plan: _Plan, known: dict[str, set[str]]) -> None:
    for index, item in enumerate(_entries(data, "teams", plan)):
        where = f"teams[{index}]"
        _unknown_keys(item, ("slug", *_TEAM_FIELDS), where, plan)
        slug = item.get("slug")
        if not slug:
            plan.errors.append(f"{where}.slug: required")
            continue
        known["teams"].add(slug)
        values = {k: item[k] for k in _TEAM_FIELDS if k in item}
        team = Team.objects.filter(slug=slug).first()
        if not _validated(Team, {"slug": slug, "name": values.get("name", slug), **values}, where, plan,
                          exclude=["slug", "name"] if team else []):
            continue
        if team is None:
            plan.changes.append(Change(action="create", section="teams", key=slug))
            plan.writes.append(lambda slug=slug, values=values: Team.objects.create(
                slug=slug, **{"name": slug, **values}))
        elif changed := _diff(team, values, _TEAM_FIELDS):
            plan.changes.append(Change(action="update", section="teams", key=slug, fields=changed))
            plan.writes.append(lambda slug=slug, values=values: Team.objects.filter(slug=slug).update(**values))


def _plan_services(data, plan: _Plan, known: dict[str, set[str]]) -> None:
    items = _entries(data, "services", plan)
    known["services"] |= {item["name"] for item in items if item.get("name")}
    for index, item in enumerate(items):
        where = f"services[{index}]"
        _unknown_keys(item, ("name", "team", "depends_on", *_SERVICE_FIELDS), where, plan)
        name, team_slug = item.get("name"), item.get("team")
        if not name:
            plan.errors.append(f"{where}.name: required")
            continue
        service = Service.objects.filter(name=name).select_related("team").first()
        if team_slug is None and service is None:
            plan.errors.append(f"{where}.team: required for a new service")
            continue
        if team_slug is not None and team_slug not in known["teams"]:
            plan.errors.append(f"{where}.team: no team {team_slug!r} (in the file or the database)")
            continue
        values = {k: item[k] for k in _SERVICE_FIELDS if k in item}
        if "downtime_cost_per_minute" in values:
            try:
                values["downtime_cost_per_minute"] = Decimal(str(values["downtime_cost_per_minute"]))
            except InvalidOperation:
                plan.errors.append(f"{where}.downtime_cost_per_minute: not a number")
                continue
            if values["downtime_cost_per_minute"] < 0:
                plan.errors.append(f"{where}.downtime_cost_per_minute: must not be negative")
                continue
        if not _validated(Service, {"name": name, **values}, where, plan, exclude=["team", "name"]):
            continue
        deps = item.get("depends_on")
        if deps is not None:
            if not isinstance(deps, list) or any(d not in known["services"] for d in deps) or name in deps:
                plan.errors.append(f"{where}.depends_on: must list other known services, got {deps!r}")
                continue
        changed = _diff(service, values, _SERVICE_FIELDS)
        if service is not None and team_slug is not None and service.team.slug != team_slug:
            changed["team"] = (service.team.slug, team_slug)
        if service is not None and deps is not None:
            before = sorted(d.name for d in service.depends_on.all())
            if before != sorted(deps):
                changed["depends_on"] = (before, sorted(deps))
        if service is None:
            plan.changes.append(Change(action="create", section="services", key=name))
        elif changed:
            plan.changes.append(Change(action="update", section="services", key=name, fields=changed))
        else:
            continue

        def write(name=name, team_slug=team_slug, values=values, deps=deps) -> None:
            defaults = dict(values)
            if team_slug is not None:
                defaults["team"] = Team.objects.get(slug=team_slug)
            Service.objects.update_or_create(name=name, defaults=defaults)

        plan.writes.append(write)
    # Dependencies once every service exists (a service may depend on one created later in the file).
    for item in items:
        if item.get("name") and isinstance(item.get("depends_on"), list):
            plan.writes.append(lambda item=item: Service.objects.get(name=item["name"]).depends_on.set(
                Service.objects.filter(name__in=item["depends_on"])))


def _plan_integrations(data, plan: _Plan, known: dict[str, set[str]]) -> None:
    for index, item in enumerate(_entries(data, "integrations", plan)):
        where = f"integrations[{index}]"
        _unknown_keys(item, ("name", "kind", "service", "extra_services", *_INTEGRATION_FIELDS), where, plan)
        name, kind, service = item.get("name"), item.get("kind"), item.get("service")
        if not name or kind not in IntegrationKind.values:
            plan.errors.append(f"{where}: needs a name and a kind among {', '.join(IntegrationKind.values)}")
            continue
        extra = item.get("extra_services") or []
        for svc in [service, *extra]:
            if svc is not None and svc not in known["services"]:
                plan.errors.append(f"{where}: no service {svc!r}")
                break
        else:
            values = {k: item[k] for k in _INTEGRATION_FIELDS if k in item}
            existing = Integration.objects.filter(name=name, kind=kind, revoked_at=None).first()
            if existing is None:
                plan.changes.append(Change(action="create", section="integrations", key=f"{kind}/{name}"))

                def create(name=name, kind=kind, service=service, extra=extra, values=values) -> None:
                    integration, token = integration_create(
                        kind=kind, name=name, service=Service.objects.filter(name=service).first(),
                        extra_services=list(Service.objects.filter(name__in=extra)))
                    if values:
                        Integration.objects.filter(pk=integration.pk).update(**values)
                    plan.tokens[name] = token

                plan.writes.append(create)
                continue
            changed = _diff(existing, values, _INTEGRATION_FIELDS)
            if (existing.service.name if existing.service else None) != service:
                changed["service"] = (existing.service.name if existing.service else None, service)
            before_extra = sorted(s.name for s in existing.extra_services.all())
            if before_extra != sorted(extra):
                changed["extra_services"] = (before_extra, sorted(extra))
            if changed:
                plan.changes.append(Change(action="update", section="integrations", key=f"{kind}/{name}",
                                           fields=changed))

                def update(pk=existing.pk, service=service, extra=extra, values=values) -> None:
                    Integration.objects.filter(pk=pk).update(
                        service=Service.objects.filter(name=service).first(), **values)
                    Integration.objects.get(pk=pk).extra_services.set(Service.objects.filter(name__in=extra))

                plan.writes.append(update)


def _users(names: Any, where: str, plan: _Plan) -> list[Any] | None:
    if names is None:
        return None
    User = get_user_model()
    found = {u.username: u for u in User.objects.filter(username__in=names or [])}
    missing = sorted(set(names or []) - set(found))
    if missing:
        plan.errors.append(f"{where}.users: unknown user(s) {', '.join(missing)}")
        return None
    return [found[n] for n in names]


def _plan_policies(data, plan: _Plan, known: dict[str, set[str]]) -> None:
    for index, item in enumerate(_entries(data, "notification_policies", plan)):
        where = f"notification_policies[{index}]"
        _unknown_keys(item, ("level", "users", "escalation_steps", *_POLICY_FIELDS), where, plan)
        level = item.get("level")
        if level not in (1, 2, 3, 4):
            plan.errors.append(f"{where}.level: must be 1, 2, 3 or 4")
            continue
        values = {k: item[k] for k in _POLICY_FIELDS if k in item}
        if not _validated(NotificationPolicy, {"severity": level, **values}, where, plan, exclude=["severity"]):
            continue
        users = _users(item.get("users"), where, plan)
        steps = item.get("escalation_steps")
        policy = NotificationPolicy.objects.filter(severity=level).first()
        changed = _diff(policy, values, _POLICY_FIELDS)
        if policy is not None and users is not None:
            before = sorted(u.username for u in policy.users.all())
            if before != sorted(u.username for u in users):
                changed["users"] = (before, sorted(u.username for u in users))
        if policy is not None and steps is not None:
            before_steps = config_export_policy_steps(policy)
            if before_steps != _normal_steps(steps):
                changed["escalation_steps"] = (before_steps, _normal_steps(steps))
        if policy is None:
            plan.changes.append(Change(action="create", section="notification_policies", key=f"level {level}"))
        elif changed:
            plan.changes.append(Change(action="update", section="notification_policies", key=f"level {level}",
                                       fields=changed))
        else:
            continue

        def write(level=level, values=values, users=users, steps=steps) -> None:
            policy, _ = NotificationPolicy.objects.update_or_create(severity=level, defaults=values)
            if users is not None:
                policy.users.set(users)
            if steps is not None:
                policy.escalation_steps.all().delete()
                for position, step in enumerate(_normal_steps(steps), start=1):
                    made = EscalationStep.objects.create(
                        policy=policy, position=position, **{k: step[k] for k in _ESCALATION_FIELDS})
                    made.users.set(get_user_model().objects.filter(username__in=step["users"]))

        plan.writes.append(write)


def _normal_steps(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"position": position, **{k: bool(step.get(k, False)) for k in _ESCALATION_FIELDS},
             "users": sorted(step.get("users") or [])} for position, step in enumerate(steps, start=1)]


def config_export_policy_steps(policy: NotificationPolicy) -> list[dict[str, Any]]:
    return [{"position": position, **_fields(step, _ESCALATION_FIELDS),
             "users": sorted(u.username for u in step.users.all())}
            for position, step in enumerate(policy.escalation_steps.order_by("position"), start=1)]


def _step_rows(steps: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"position": position, **{k: step[k] for k in _STEP_FIELDS if k in step}}
            for position, step in enumerate(steps, start=1)]


def _plan_playbooks(data, plan: _Plan, known: dict[str, set[str]]) -> None:
    for index, item in enumerate(_entries(data, "playbooks", plan)):
        where = f"playbooks[{index}]"
        _unknown_keys(item, ("name", "services", "steps", *_PLAYBOOK_FIELDS), where, plan)
        name = item.get("name")
        if not name:
            plan.errors.append(f"{where}.name: required")
            continue
        values = {k: item[k] for k in _PLAYBOOK_FIELDS if k in item}
        if not _validated(Playbook, {"name": name, **values}, where, plan, exclude=["name"]):
            continue
        services = item.get("services")
        if services is not None and any(s not in known["services"] for s in services):
            plan.errors.append(f"{where}.services: unknown service in {services!r}")
            continue
        steps = item.get("steps")
        if steps is not None:
            bad = False
            for s_index, step in enumerate(steps):
                _unknown_keys(step, ("position", *_STEP_FIELDS), f"{where}.steps[{s_index}]", plan)
                row = {k: step[k] for k in _STEP_FIELDS if k in step}
                if not _validated(PlaybookStep, row, f"{where}.steps[{s_index}]", plan, exclude=["playbook"]):
                    bad = True
            if bad:
                continue
        playbook = Playbook.objects.filter(name=name).first()
        changed = _diff(playbook, values, _PLAYBOOK_FIELDS)
        if playbook is not None and services is not None:
            before = sorted(s.name for s in playbook.services.all())
            if before != sorted(services):
                changed["services"] = (before, sorted(services))
        if playbook is not None and steps is not None:
            current = [{"position": s.position, **_fields(s, _STEP_FIELDS)}
                       for s in playbook.steps.order_by("position")]
            wanted = [{**{k: _plain(getattr(PlaybookStep(), k)) for k in _STEP_FIELDS}, **row}
                      for row in _step_rows(steps)]
            if current != wanted:
                changed["steps"] = (f"{len(current)} steps", f"{len(wanted)} steps")
        if playbook is None:
            plan.changes.append(Change(action="create", section="playbooks", key=name))
        elif changed:
            plan.changes.append(Change(action="update", section="playbooks", key=name, fields=changed))
        else:
            continue

        def write(name=name, values=values, services=services, steps=steps) -> None:
            playbook, _ = Playbook.objects.update_or_create(name=name, defaults=values)
            if services is not None:
                playbook.services.set(Service.objects.filter(name__in=services))
            if steps is not None:
                playbook.steps.all().delete()  # runs keep their own copies of the steps (PlaybookStepRun)
                PlaybookStep.objects.bulk_create(PlaybookStep(playbook=playbook, **row) for row in _step_rows(steps))

        plan.writes.append(write)


def _plan_silences(data, plan: _Plan, known: dict[str, set[str]]) -> None:
    for index, item in enumerate(_entries(data, "silences", plan)):
        where = f"silences[{index}]"
        _unknown_keys(item, ("comment", "matchers", "starts_at", "ends_at"), where, plan)
        starts = parse_datetime(str(item.get("starts_at", "")))
        ends = parse_datetime(str(item.get("ends_at", "")))
        if starts is None or ends is None or ends <= starts:
            plan.errors.append(f"{where}: starts_at and ends_at must be ISO datetimes, ends after starts")
            continue
        matchers = item.get("matchers")
        if not isinstance(matchers, list) or not matchers:
            plan.errors.append(f"{where}.matchers: a non-empty list is required")
            continue
        comment = str(item.get("comment", ""))
        # A silence has no name: the same comment, matchers and window is the same silence.
        if Silence.objects.filter(comment=comment, starts_at=starts, ends_at=ends, matchers=matchers).exists():
            continue
        plan.changes.append(Change(action="create", section="silences", key=comment or f"#{index}"))
        plan.writes.append(lambda comment=comment, matchers=matchers, starts=starts, ends=ends:
                           Silence.objects.create(comment=comment, matchers=matchers, starts_at=starts, ends_at=ends))


def config_apply(*, data: Any, dry_run: bool = False, actor_name: str = "config apply") -> ApplyResult:
    """Validate the whole file, then (unless `dry_run`) write every change in one transaction, each one
    recorded in the audit log (source "config") with the fields it changed."""
    if not isinstance(data, dict):
        raise ConfigError(["the file must be a mapping of sections"])
    unknown = sorted(set(data) - set(SECTIONS))
    plan = _Plan()
    if unknown:
        plan.errors.append(f"unknown section(s): {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    known = {"teams": set(Team.objects.values_list("slug", flat=True)),
             "services": set(Service.objects.values_list("name", flat=True))}
    for planner in (_plan_teams, _plan_services, _plan_integrations, _plan_policies, _plan_playbooks,
                    _plan_silences):
        planner(data, plan, known)
    if plan.errors:
        raise ConfigError(plan.errors)
    if not dry_run:
        with transaction.atomic():
            for write in plan.writes:
                write()
            AuditEntry.objects.bulk_create(
                AuditEntry(actor_name=actor_name, action=change.action, object_type=change.section,
                           object_id=change.key[:64], object_repr=change.key[:200],
                           before={k: _plain(b) for k, (b, _) in change.fields.items()} or None,
                           after={k: _plain(a) for k, (_, a) in change.fields.items()} or None, source="config")
                for change in plan.changes)
    return ApplyResult(changes=plan.changes, tokens=dict(plan.tokens), dry_run=dry_run)
