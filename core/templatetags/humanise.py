"""Template filters that print times and numbers for people: `{{ td|duration }}`, `{{ x|sig }}`."""
from __future__ import annotations

from datetime import timedelta

from django import template
from django.utils import formats, timezone
from django.utils.dateparse import parse_datetime

register = template.Library()


@register.filter
def duration(value: timedelta | float | int | None) -> str:
    """A timedelta (or seconds) as "45 s", "12 min", "3.5 h", "2.1 d"; "–" when there is none."""
    if value is None or value == "":
        return "–"
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if seconds < 0:
        return "–"
    if seconds < 90:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 120:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{hours:.1f} h"
    return f"{hours / 24:.1f} d"


@register.filter
def sig(value: float | int | None, digits: int = 4) -> str:
    """A measured value to `digits` significant figures (no 0.30000000000000004 on a page)."""
    if value is None or value == "":
        return "–"
    try:
        return f"{float(value):.{int(digits)}g}"
    except (TypeError, ValueError):
        return str(value)


@register.filter
def isotime(value: str | None) -> str:
    """An ISO timestamp (as panels carry them in JSON) in the one date format, in the current time zone."""
    parsed = parse_datetime(value) if isinstance(value, str) else None
    if parsed is None:
        return value or ""
    if timezone.is_aware(parsed):
        parsed = timezone.localtime(parsed)
    return formats.date_format(parsed, "DATETIME_FORMAT")
