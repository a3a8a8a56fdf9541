"""The silences page: silence an alert's kind in two clicks (matchers pre-filled from its labels, a duration
preset), see what it would mute before saving, list silences and expire them.

Operators and admins act; managers and executives read (the page, the list and the preview). Every POST
re-checks the role on the server.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied
from django.db.models import Q
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse, QueryDict
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import formats, timezone
from django.views.decorators.http import require_GET, require_POST

from core.choices import Role
from core.exceptions import InvalidInput
from core.selectors import user_has_role

from . import selectors, services
from .models import Alert, Silence
from .services.silences import MATCH_OPS, matchers_clean

MAX_MATCHERS = 20  # rows a form may carry; an alert with more labels than this is not one kind of fault
BLANK_ROWS = 2  # empty matcher rows offered for adding one by hand
LIST_LIMIT = 100  # silences shown per list (active, ended); the API pages through the rest
MAX_CUSTOM_HOURS = 24 * 90  # a quarter: a longer "silence" is a decommission, not a maintenance window


@dataclass(frozen=True, slots=True, kw_only=True)
class DurationPreset:
    key: str
    label: str
    length: timedelta


DURATION_PRESETS = (
    DurationPreset(key="15m", label="15 min", length=timedelta(minutes=15)),
    DurationPreset(key="1h", label="1 hour", length=timedelta(hours=1)),
    DurationPreset(key="4h", label="4 hours", length=timedelta(hours=4)),
    DurationPreset(key="1d", label="1 day", length=timedelta(days=1)),
    DurationPreset(key="7d", label="1 week", length=timedelta(days=7)),
)
DEFAULT_PRESET = "1h"  # long enough for a fix, short enough that a forgotten silence ends the same shift


def _can_act(user) -> bool:
    return user_has_role(user, Role.OPERATOR, Role.ADMIN)


def _require_actor(request: HttpRequest) -> None:
    if not _can_act(request.user):
        raise PermissionDenied("Only operators and admins create or expire silences.")


def _matcher_rows(data: QueryDict) -> list[dict[str, Any]]:
    """The form's matcher rows `m<i>_label/op/value/on`, as typed (for re-showing them)."""
    rows = []
    for i in range(MAX_MATCHERS):
        label = data.get(f"m{i}_label")
        if label is None:
            continue
        rows.append({"label": label.strip(), "op": data.get(f"m{i}_op", "="), "value": data.get(f"m{i}_value", ""),
                     "on": bool(data.get(f"m{i}_on"))})
    return rows


def _chosen(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    return [{"label": r["label"], "op": r["op"], "value": r["value"]} for r in rows if r["on"] and r["label"]]


def _rows_from_alert(alert: Alert) -> list[dict[str, Any]]:
    rows = [{"label": k, "op": "=", "value": str(v), "on": True} for k, v in sorted((alert.labels or {}).items())]
    rows.append({"label": "service", "op": "=", "value": alert.service.name, "on": True})
    return rows[:MAX_MATCHERS]


def _ends_at(data: QueryDict, now):
    key = data.get("duration", DEFAULT_PRESET)
    for preset in DURATION_PRESETS:
        if preset.key == key:
            return now + preset.length
    if key == "custom":
        raw = (data.get("hours") or "").strip()
        try:
            hours = float(raw)
        except ValueError:
            raise InvalidInput(f"Custom duration: {raw!r} is not a number of hours.", field="hours") from None
        if not 0 < hours <= MAX_CUSTOM_HOURS:
            raise InvalidInput(f"Custom duration must be more than 0 and at most {MAX_CUSTOM_HOURS} hours.",
                               field="hours")
        return now + timedelta(hours=hours)
    raise InvalidInput(f"Unknown duration {key!r}; choose a preset or a custom number of hours.", field="duration")


def _page(request: HttpRequest, *, rows: list[dict[str, Any]], form: dict[str, Any], alert: Alert | None = None,
          error: InvalidInput | None = None, status: int = 200) -> HttpResponse:
    preview = None
    chosen = _chosen(rows)
    if chosen and error is None:
        try:
            preview = selectors.silence_preview(matchers=matchers_clean(chosen))
        except InvalidInput as exc:
            error = exc
    now = timezone.now()
    silences = selectors.silence_list()
    active = list(silences.filter(ends_at__gt=now, expired_early_at__isnull=True)[:LIST_LIMIT])
    ended = list(silences.filter(Q(ends_at__lte=now) | Q(expired_early_at__isnull=False))[:LIST_LIMIT])
    blank = [{"label": "", "op": "=", "value": "", "on": True} for _ in range(BLANK_ROWS)]
    return render(request, "incidents/silences.html", {
        "rows": [*rows, *blank][:MAX_MATCHERS], "ops": MATCH_OPS, "form": form, "alert": alert, "error": error,
        "preview": preview, "presets": DURATION_PRESETS, "active": active, "ended": ended, "now": now,
        "can_act": _can_act(request.user),
    }, status=status)


@require_GET
def silence_list(request: HttpRequest) -> HttpResponse:
    """The page. `?alert=<id>` pre-fills the form from that alert's labels and service (the first click)."""
    alert = None
    rows: list[dict[str, Any]] = _matcher_rows(request.GET)
    form = {"duration": DEFAULT_PRESET, "hours": "", "comment": ""}
    raw = request.GET.get("alert", "")
    if raw:
        if not raw.isdigit():
            return _page(request, rows=rows, form=form, status=400,
                         error=InvalidInput(f"alert must be an alert id, not {raw!r}.", field="alert"))
        alert = Alert.objects.select_related("service").filter(pk=int(raw)).first()
        if alert is None:
            raise Http404("No such alert.")
        rows = rows or _rows_from_alert(alert)
        form["comment"] = f"Silenced from alert #{alert.pk}: {alert.title}"[:300]
    return _page(request, rows=rows, form=form, alert=alert)


@require_POST
def silence_create(request: HttpRequest) -> HttpResponse:
    """Create (or, with `action=preview`, only preview) a silence from the form; errors re-show the form (400)."""
    _require_actor(request)
    rows = _matcher_rows(request.POST)
    form = {"duration": request.POST.get("duration", DEFAULT_PRESET), "hours": request.POST.get("hours", ""),
            "comment": request.POST.get("comment", "")}
    alert = None
    if (request.POST.get("alert") or "").isdigit():
        alert = Alert.objects.select_related("service").filter(pk=int(request.POST["alert"])).first()
    if request.POST.get("action") == "preview":
        return _page(request, rows=rows, form=form, alert=alert)
    try:
        chosen = _chosen(rows)
        if not chosen:
            raise InvalidInput("Tick at least one matcher (label, operator, value).", field="matchers")
        now = timezone.now()
        silence = services.silence_create(matchers=chosen, starts_at=None, ends_at=_ends_at(request.POST, now),
                                          comment=form["comment"], user=request.user)
    except InvalidInput as exc:
        return _page(request, rows=rows, form=form, alert=alert, error=exc, status=400)
    muted = silence.alerts.count()
    until = formats.date_format(timezone.localtime(silence.ends_at), "DATETIME_FORMAT")
    messages.success(request, f"Silence #{silence.pk} is on until {until}; "
                              f"{muted} firing alert{'s' if muted != 1 else ''} muted now.")
    return redirect(reverse("incidents:silences") + f"#silence-{silence.pk}")


@require_GET
def silence_preview(request: HttpRequest) -> JsonResponse:
    """What the matchers in the query (the form's fields) would mute: JSON for the form's live preview."""
    try:
        chosen = _chosen(_matcher_rows(request.GET))
        if not chosen:
            raise InvalidInput("Tick at least one matcher (label, operator, value).", field="matchers")
        preview = selectors.silence_preview(matchers=matchers_clean(chosen))
    except InvalidInput as exc:
        return JsonResponse({"detail": exc.message, "field": exc.field}, status=400)
    return JsonResponse({"mute_now": preview.mute_now, "in_incidents": preview.in_incidents,
                         "recent": preview.recent, "alerts": preview.alerts, "scanned_all": preview.scanned_all})


@require_POST
def silence_expire(request: HttpRequest, pk: int) -> HttpResponse:
    _require_actor(request)
    silence = Silence.objects.filter(pk=pk).first()
    if silence is None:
        raise Http404("No such silence.")
    services.silence_expire(silence=silence, user=request.user)
    messages.success(request, f"Silence #{silence.pk} expired: matching alerts count again from their next signal.")
    return redirect("incidents:silences")
