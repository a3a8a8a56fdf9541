"""Audit log of configuration changes: who changed a playbook, policy, service or integration, when, and
what it looked like before and after. Secrets are never copied into the log (only whether one is set)."""
from __future__ import annotations

import hashlib
import hmac
from typing import Any

from django.conf import settings
from django.contrib import admin
from django.db import models

from .models import AuditEntry

SECRET_FIELDS = frozenset({"secret", "token_hash", "webhook_secret", "password"})


def _secret(raw: Any) -> str:
    """Whether a secret is set, and a keyed fingerprint so a change shows without the value being kept."""
    if not raw:
        return ""
    digest = hmac.new(settings.SECRET_KEY.encode(), str(raw).encode(), hashlib.sha256).hexdigest()[:8]
    return f"set ({digest})"


def _value(value: Any) -> Any:
    if isinstance(value, models.Model):
        return str(value)
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def snapshot(obj: models.Model, *, children: tuple[str, ...] = ()) -> dict[str, Any]:
    """The object's fields (many-to-many as sorted names) and its listed child rows, JSON-ready."""
    data: dict[str, Any] = {}
    for f in obj._meta.concrete_fields:
        raw = getattr(obj, f.attname)
        data[f.name] = _secret(raw) if f.name in SECRET_FIELDS else _value(
            getattr(obj, f.name) if f.is_relation else raw)
    if obj.pk is not None:
        for f in obj._meta.many_to_many:
            data[f.name] = sorted(str(o) for o in getattr(obj, f.name).all())
        for name in children:
            data[name] = [snapshot(child) for child in getattr(obj, name).all()]
    return data


def audit_record(*, actor: Any, action: str, obj: models.Model, before: dict[str, Any] | None,
                 after: dict[str, Any] | None, source: str = "admin") -> AuditEntry | None:
    """Write one entry; an update that changed nothing writes none."""
    if action == "update" and before == after:
        return None
    user = actor if getattr(actor, "is_authenticated", False) and getattr(actor, "pk", None) else None
    return AuditEntry.objects.create(
        actor=user, actor_name=getattr(actor, "username", "") or str(actor or ""), action=action,
        object_type=obj._meta.label_lower, object_id=str(obj.pk), object_repr=str(obj)[:200],
        before=before, after=after, source=source,
    )


class AuditedAdmin(admin.ModelAdmin):
    """Admin whose saves and deletes are audited; `audit_children` names reverse relations (inline rows,
    e.g. a playbook's steps) to include in the before/after snapshots."""

    audit_children: tuple[str, ...] = ()

    def save_model(self, request, obj, form, change) -> None:
        model = type(obj)
        current = model._default_manager.filter(pk=obj.pk).first() if change else None
        request._audit_before = snapshot(current, children=self.audit_children) if current else None
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        obj = form.instance
        audit_record(actor=request.user, action="update" if change else "create", obj=obj,
                     before=getattr(request, "_audit_before", None),
                     after=snapshot(obj, children=self.audit_children))

    def delete_model(self, request, obj) -> None:
        before = snapshot(obj, children=self.audit_children)
        pk, label, text = obj.pk, obj._meta.label_lower, str(obj)[:200]
        super().delete_model(request, obj)
        AuditEntry.objects.create(actor=request.user, actor_name=request.user.username, action="delete",
                                  object_type=label, object_id=str(pk), object_repr=text, before=before,
                                  after=None, source="admin")

    def delete_queryset(self, request, queryset) -> None:
        for obj in queryset:
            self.delete_model(request, obj)


@admin.register(AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the log is written by the admin itself, never edited."""

    list_display = ["at", "actor_name", "action", "object_type", "object_repr", "source"]
    list_filter = ["action", "object_type", "source"]
    search_fields = ["object_repr", "actor_name"]
    readonly_fields = [f.name for f in AuditEntry._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
