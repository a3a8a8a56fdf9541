"""The admin's playbook editor made for people: levels and source kinds as tick boxes, labels as name = value rows
instead of raw JSON, step rows grouped so a title is never cut, and a preview of the incidents it would match."""
from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from incidents.choices import Severity, SourceKind
from incidents.models import Alert, Incident, Playbook
from incidents.services.playbooks import playbook_criteria

from . import engine

LABEL_ROWS_BLANK = 3  # empty name = value rows offered for adding matchers
LABEL_ROWS_MAX = 30  # rows read back from a form; a playbook matching on more labels is one alert, not a kind
PREVIEW_DAYS = 30  # incidents opened this recently are previewed
PREVIEW_LIMIT = 200  # newest incidents checked: enough to judge a rule, cheap on the admin page
PREVIEW_SHOWN = 25  # matches listed by name


class LabelPairsWidget(forms.Widget):
    """A dict of label -> value as rows of two inputs (`<name>_k<i>`, `<name>_v<i>`)."""

    def format_value(self, value: Any) -> list[tuple[str, str]]:
        if isinstance(value, str):
            try:
                value = json.loads(value or "{}")
            except ValueError:
                value = {}
        pairs = [(str(k), str(v)) for k, v in (value or {}).items()] if isinstance(value, Mapping) else []
        return pairs + [("", "")] * LABEL_ROWS_BLANK

    def render(self, name, value, attrs=None, renderer=None):
        rows = format_html_join(
            "", '<div class="label-pair" style="display:flex;gap:6px;margin-bottom:4px">'
                '<input name="{0}_k{1}" value="{2}" placeholder="label, e.g. alertname" aria-label="label {3}" '
                'maxlength="100" style="flex:1"> <span>=</span> '
                '<input name="{0}_v{1}" value="{4}" placeholder="value, e.g. DiskFull" aria-label="value {3}" '
                'maxlength="200" style="flex:1"></div>',
            ((name, i, k, i + 1, v) for i, (k, v) in enumerate(self.format_value(value))),
        )
        return format_html('<div class="label-pairs" id="{}">{}</div>', (attrs or {}).get("id", name), rows)

    def value_from_datadict(self, data, files, name):
        pairs = {}
        for i in range(LABEL_ROWS_MAX):
            key = (data.get(f"{name}_k{i}") or "").strip()
            if key:
                pairs[key] = (data.get(f"{name}_v{i}") or "").strip()
        return pairs

    def value_omitted_from_data(self, data, files, name):
        return False


class LabelPairsField(forms.Field):
    widget = LabelPairsWidget

    def clean(self, value):
        value = super().clean(value) or {}
        for key, wanted in value.items():
            if not wanted:
                raise forms.ValidationError(f"Label {key!r} needs a value (remove the row to match any).")
        return value


class PlaybookForm(forms.ModelForm):
    severities = forms.TypedMultipleChoiceField(
        choices=Severity.choices, coerce=int, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Levels matched; none ticked matches any level.")
    source_kinds = forms.MultipleChoiceField(
        choices=SourceKind.choices, required=False, widget=forms.CheckboxSelectMultiple,
        help_text="Where the alerts come from (Model monitor for model drift); none ticked matches any.")
    labels = LabelPairsField(required=False, help_text="Every label must have this value on one of the alerts.")

    class Meta:
        model = Playbook
        fields = ["name", "description", "enabled", "priority", "severities", "source_kinds", "services", "labels",
                  "keywords"]

    def clean_severities(self):
        return sorted(self.cleaned_data.get("severities") or [])

    def clean_source_kinds(self):
        return sorted(self.cleaned_data.get("source_kinds") or [])


@dataclass(frozen=True, slots=True, kw_only=True)
class PreviewRow:
    incident: Incident
    reason: str
    chosen: bool  # this playbook would win against the others


def playbook_match_preview(*, playbook: Playbook, days: int = PREVIEW_DAYS,
                           limit: int = PREVIEW_LIMIT) -> tuple[list[PreviewRow], int]:
    """Recent incidents this playbook matches (newest first) and how many were checked; one query for alerts."""
    incidents = list(Incident.objects.select_related("service")
                     .filter(opened_at__gte=timezone.now() - timedelta(days=days)).order_by("-opened_at")[:limit])
    facts_by_id: dict[int, dict[str, Any]] = {i.pk: {"labels": {}, "kinds": set()} for i in incidents}
    for incident_id, labels, kind in (Alert.objects.filter(incident_id__in=facts_by_id)
                                      .values_list("incident_id", "labels", "source_kind")):
        seen = facts_by_id[incident_id]
        for key, value in (labels or {}).items():
            seen["labels"].setdefault(str(key), str(value))
        if kind:
            seen["kinds"].add(kind)
    mine = playbook_criteria(playbook)
    others = [playbook_criteria(p) for p in Playbook.objects.filter(enabled=True).exclude(pk=playbook.pk)
              .prefetch_related("services")]
    rows = []
    for incident in incidents:
        facts = engine.IncidentFacts(
            service_id=incident.service_id, severity=incident.severity, title=incident.title or "",
            labels=facts_by_id[incident.pk]["labels"], source_kinds=frozenset(facts_by_id[incident.pk]["kinds"]))
        found = engine.match(mine, facts)
        if found is None:
            continue
        best = engine.best_match([mine, *others], facts)
        rows.append(PreviewRow(incident=incident, reason=found.reason,
                               chosen=best is not None and best.playbook_id == playbook.pk))
    return rows, len(incidents)


def preview_html(playbook: Playbook) -> str:
    if playbook.pk is None:
        return "Save the playbook to see which incidents it would match."
    rows, checked = playbook_match_preview(playbook=playbook)
    if not rows:
        return format_html("None of the {} incidents of the last {} days.", checked, PREVIEW_DAYS)
    chosen = sum(1 for r in rows if r.chosen)
    items = format_html_join(
        "", '<li><a href="/incidents/{}/">#{} L{} {}</a> <span style="color:#6b7280">{} · {}{}</span></li>',
        ((r.incident.pk, r.incident.pk, r.incident.severity, r.incident.title, r.incident.service.name, r.reason,
          "" if r.chosen else " · another playbook wins") for r in rows[:PREVIEW_SHOWN]))
    return format_html("<p>Matches {} of the {} incidents of the last {} days; it would be attached to {} "
                       "(others match a better playbook).</p><ul>{}</ul>",
                       len(rows), checked, PREVIEW_DAYS, chosen, items)
