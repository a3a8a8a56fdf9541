"""Configuration as code, the file's shape and its export: sections, the fields of each kind, the change and
result types, and `config_export`."""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import models

from core.models import Integration, Service, Team
from incidents.models import NotificationPolicy, Playbook, Silence

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
