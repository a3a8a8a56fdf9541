"""Silences: Alertmanager-style label matchers (=, !=, =~, !~) over a time window; muted alerts stay visible."""
from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.db import transaction
from django.utils import timezone

from core.exceptions import InvalidInput
from incidents.choices import AlertHold, AlertStatus
from incidents.models import Alert, Silence

MATCH_OPS = ("=", "!=", "=~", "!~")
# Fields of the alert itself that matchers may name like labels.
PSEUDO_LABELS = ("service", "source_kind", "source_name")


@lru_cache(maxsize=512)
def _regex(pattern: str) -> re.Pattern[str]:
    # Alertmanager anchors regex matchers: "prod|stage" must match the whole value.
    return re.compile(f"^(?:{pattern})$")


def matcher_matches(matcher: Mapping[str, str], labels: Mapping[str, str]) -> bool:
    """One matcher against a label set; a missing label is the empty string (as in Alertmanager)."""
    value = labels.get(matcher["label"], "")
    op, wanted = matcher.get("op", "="), matcher.get("value", "")
    if op == "=":
        return value == wanted
    if op == "!=":
        return value != wanted
    if op == "=~":
        return bool(_regex(wanted).match(value))
    if op == "!~":
        return not _regex(wanted).match(value)
    return False


def matchers_match(matchers: Sequence[Mapping[str, str]], labels: Mapping[str, str]) -> bool:
    return bool(matchers) and all(matcher_matches(m, labels) for m in matchers)


def alert_match_labels(*, labels: Mapping[str, str], service: str, source_kind: str, source_name: str) -> dict:
    return {**labels, "service": service, "source_kind": source_kind, "source_name": source_name}


def matchers_clean(matchers: Any) -> list[dict[str, str]]:
    """Validate matchers from a form or the API; raises InvalidInput naming `matchers`."""
    if not isinstance(matchers, list) or not matchers:
        raise InvalidInput("A silence needs at least one matcher.", field="matchers")
    clean = []
    for m in matchers:
        if not isinstance(m, Mapping) or not str(m.get("label") or "").strip():
            raise InvalidInput("Each matcher needs a label.", field="matchers")
        op = m.get("op", "=")
        if op not in MATCH_OPS:
            raise InvalidInput(f"Unknown matcher operator {op!r}; use =, !=, =~ or !~.", field="matchers")
        value = str(m.get("value", ""))
        if op in ("=~", "!~"):
            try:
                _regex(value)
            except re.error as exc:
                raise InvalidInput(f"Bad regular expression {value!r}: {exc}.", field="matchers") from exc
        clean.append({"label": str(m["label"]).strip(), "op": op, "value": value})
    if all(matcher_matches(m, {}) for m in clean):
        # Like Alertmanager: a silence whose matchers all match the empty label set mutes everything.
        raise InvalidInput("These matchers would silence every alert.", field="matchers")
    return clean


def silences_active(*, at: datetime) -> list[Silence]:
    return list(Silence.objects.filter(starts_at__lte=at, ends_at__gt=at, expired_early_at__isnull=True))


def silence_find(*, labels: Mapping[str, str], at: datetime, active: list[Silence] | None = None) -> Silence | None:
    for silence in active if active is not None else silences_active(at=at):
        if matchers_match(silence.matchers, labels):
            return silence
    return None


@transaction.atomic
def silence_create(*, matchers: Any, starts_at: datetime | None, ends_at: datetime, comment: str,
                   user: Any = None) -> Silence:
    """Create a silence and mute the firing alerts it matches now (they stay listed, marked silenced)."""
    now = timezone.now()
    starts_at = starts_at or now
    if ends_at <= now:
        raise InvalidInput("A silence must end in the future.", field="ends_at")
    if ends_at <= starts_at:
        raise InvalidInput("A silence must end after it starts.", field="ends_at")
    comment = (comment or "").strip()
    if not comment:
        raise InvalidInput("Say why (a comment) when silencing.", field="comment")
    silence = Silence.objects.create(matchers=matchers_clean(matchers), starts_at=starts_at, ends_at=ends_at,
                                     comment=comment[:300], created_by=user)
    if starts_at <= now:
        firing = Alert.objects.filter(status=AlertStatus.FIRING, hold__in=[AlertHold.NONE, AlertHold.PENDING],
                                      incident__isnull=True).select_related("service")
        muted = [a.pk for a in firing if matchers_match(silence.matchers, alert_match_labels(
            labels=a.labels, service=a.service.name, source_kind=a.source_kind, source_name=a.source_name))]
        Alert.objects.filter(pk__in=muted).update(hold=AlertHold.SILENCED, silence=silence)
    return silence


def silence_expire(*, silence: Silence, user: Any = None) -> Silence:
    """End a silence now; alerts it muted start counting again on their next signal."""
    now = timezone.now()
    if silence.expired_early_at is None and silence.ends_at > now:
        silence.expired_early_at = now
        silence.save(update_fields=["expired_early_at"])
    return silence
