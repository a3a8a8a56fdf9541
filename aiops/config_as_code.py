"""Configuration as code: teams, services (with dependencies), integrations (without secrets), notification
policies (with escalation steps), playbooks (with steps) and silences, exported to and applied from YAML.

`apply` is idempotent (a second run changes nothing), never deletes what the file does not mention, never
touches secrets (tokens, HMAC keys: they stay in the environment or the admin), and validates the whole
file before writing anything: one bad entry and nothing is stored. `dry_run` returns the same diff without
writing. Objects are matched by their natural key (name, slug, level).

It lives in `aiops` because it spans `core` and `incidents` (the shell is the only place that wires apps).
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
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

SECTIONS = ("teams", "services", "integrations", "notification_policies", "playbooks", "silences")

_TEAM_FIELDS = ("name", "email")
_SERVICE_FIELDS = ("tier", "downtime_cost_per_minute", "owner_email", "description")
_INTEGRATION_FIELDS = ("rate_limit_per_minute",)
_POLICY_FIELDS = ("enabled", "digest_only", "channels", "ack_timeout_minutes", "escalation_limit",
                  "notify_executives", "notify_managers", "notify_team")
_ESCALATION_FIELDS = ("notify_executives", "notify_managers", "notify_team")
_PLAYBOOK_FIELDS = ("description", "enabled", "priority", "severities", "source_kinds", "labels", "keywords")
_STEP_FIELDS = ("phase", "title", "description", "kind", "owner_role", "expected_minutes", "action_name",
                "params", "webhook_url", "auto_run")  # webhook_secret: a secret, never exported


class ConfigError(ValueError):
    """The file is wrong: `errors` lists every problem as `section[index].field: message`."""

    def __init__(self, errors: list[str]):
        super().__init__("; ".join(errors))
        self.errors = errors


@dataclass(frozen=True, slots=True, kw_only=True)
class Change:
    action: str  # "create" | "update"
    section: str
    key: str
    fields: dict[str, tuple[Any, Any]] = field(default_factory=dict)  # name -> (before, after)

    def describe(self) -> str:
        if self.action == "create":
            return f"+ {self.section} {self.key}"
        parts = ", ".join(f"{name}: {before!r} -> {after!r}" for name, (before, after) in self.fields.items())
        return f"~ {self.section} {self.key}: {parts}"


@dataclass(frozen=True, slots=True, kw_only=True)
class ApplyResult:
    changes: list[Change]
    tokens: dict[str, str]  # integration name -> token, for integrations created by this apply
    dry_run: bool


# --- export --------------------------------------------------------------------------------------------

def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _fields(obj: models.Model, names: Iterable[str]) -> dict[str, Any]:
    return {name: _plain(getattr(obj, name)) for name in names}


def config_export() -> dict[str, list[dict[str, Any]]]:
    """The whole configuration as plain data (YAML-ready), in a stable order."""
    return {
        "teams": [{"slug": t.slug, **_fields(t, _TEAM_FIELDS)} for t in Team.objects.order_by("slug")],
        "services": [
            {"name": s.name, "team": s.team.slug, **_fields(s, _SERVICE_FIELDS),
             "depends_on": sorted(d.name for d in s.depends_on.all())}
            for s in Service.objects.select_related("team").prefetch_related("depends_on").order_by("name")
        ],
        "integrations": [
            {"name": i.name, "kind": i.kind, "service": i.service.name if i.service else None,
             "extra_services": sorted(s.name for s in i.extra_services.all()), **_fields(i, _INTEGRATION_FIELDS)}
            for i in Integration.objects.filter(revoked_at=None).select_related("service")
            .prefetch_related("extra_services").order_by("kind", "name")
        ],
        "notification_policies": [
            {"level": p.severity, **_fields(p, _POLICY_FIELDS),
             "users": sorted(u.username for u in p.users.all()),
             "escalation_steps": [
                 {"position": step.position, **_fields(step, _ESCALATION_FIELDS),
                  "users": sorted(u.username for u in step.users.all())}
                 for step in p.escalation_steps.order_by("position")
             ]}
            for p in NotificationPolicy.objects.prefetch_related("users", "escalation_steps__users")
            .order_by("severity")
        ],
        "playbooks": [
            {"name": p.name, **_fields(p, _PLAYBOOK_FIELDS), "services": sorted(s.name for s in p.services.all()),
             "steps": [{"position": s.position, **_fields(s, _STEP_FIELDS)} for s in p.steps.order_by("position")]}
            for p in Playbook.objects.prefetch_related("services", "steps").order_by("name")
        ],
        "silences": [
            {"comment": s.comment, "matchers": s.matchers, "starts_at": _plain(s.starts_at),
             "ends_at": _plain(s.ends_at)}
            for s in Silence.objects.filter(expired_early_at=None).order_by("starts_at", "id")
        ],
    }


# --- apply ---------------------------------------------------------------------------------------------

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
