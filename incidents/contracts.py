"""The signal contract every source hands the incident core, and its validation."""
from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import orjson
from django.utils import timezone

from core.exceptions import InvalidInput

from .choices import SEVERITY_HINT_ALIASES, SignalStatus, SourceKind

MAX_PAYLOAD_BYTES = 512 * 1024  # a raw alert is a few KB; 512 KB stops a log dump posing as one
MAX_TITLE_CHARS = 300  # what fits a page header and a pager message
# The one set of label limits of a signal; every source checks against these (the signals API's
# serializer, and the telemetry format, whose series labels anomaly signals carry).
MAX_LABELS = 64  # Prometheus rules rarely carry more than 20; beyond that it is data, not labels
MAX_LABEL_NAME_CHARS = 100  # a name is an identifier (Prometheus names are short), not text
MAX_LABEL_CHARS = 500  # a value; longer ones are truncated
# Clocks drift and queues lag, but a signal from more than a day ahead is a sender bug.
MAX_FUTURE_SKEW = timedelta(days=1)
# Old signals replayed from a queue are fine; older than this is a unit mistake (ms vs s).
MAX_PAST_AGE = timedelta(days=365)
# Labels whose value changes on every evaluation; hashing them would defeat deduplication.
VOLATILE_LABELS = frozenset(
    {"value", "timestamp", "time", "ts", "startsat", "endsat", "generatorurl", "score", "observed"}
)


# Looked up for every signal; enum `.values` rebuilds a list on each access.
_SOURCE_KINDS = frozenset(SourceKind.values)
_STATUSES = frozenset(SignalStatus.values)


class InvalidSignal(InvalidInput):
    """A signal that cannot be stored; `field` names the offending attribute."""

    code = "invalid_signal"


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalIn:
    source_kind: str  # SourceKind value
    source_name: str  # integration name / detector / monitor name
    service: str  # core.Service name (must exist)
    title: str
    fingerprint: str = ""  # dedup key; derived from source_kind+service+stable labels when ""
    description: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    severity_hint: str = ""  # critical | high | warning | info | "" (aliases: error->high, low->info)
    status: str = "firing"  # firing | resolved | acknowledged
    occurred_at: datetime | None = None  # aware datetime; default now
    # When it reached us (aware; default now): correlation windows run on it, not on occurred_at,
    # which sources stamp as they like (Alertmanager's startsAt may be hours old).
    received_at: datetime | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)  # raw source data (<= 512 KB JSON)
    links: Sequence[Mapping[str, str]] = ()  # [{"href": ..., "text": ...}]
    kpis: Sequence[str] = ()  # business/model KPIs affected (feeds severity "business impact")


@dataclass(frozen=True, slots=True, kw_only=True)
class SignalResult:
    alert_id: int | None
    incident_id: int | None
    # "opened" | "joined" | "deduplicated" | "resolved" | "acknowledged" | "silenced" | "flapping" | "pending"
    outcome: str


def derive_fingerprint(*, source_kind: str, service: str, labels: Mapping[str, str], title: str) -> str:
    """A stable dedup key: same source, service and stable labels mean the same fault.

    Without labels the title is all that tells two faults apart, so it joins the key then.
    """
    stable = sorted((k, v) for k, v in labels.items() if k.lower() not in VOLATILE_LABELS)
    parts = [source_kind, service, *(f"{k}={v}" for k, v in stable)]
    if not stable:
        parts.append(title)
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()[:40]


def signal_normalise(signal: SignalIn, *, now: datetime | None = None) -> SignalIn:
    """Check every field and return the canonical signal; raises InvalidSignal naming the field."""
    now = now or timezone.now()
    if signal.source_kind not in _SOURCE_KINDS:
        raise InvalidSignal(f"Unknown source kind {signal.source_kind!r}.", field="source_kind")
    service = (signal.service or "").strip()
    if not service:
        raise InvalidSignal("A signal needs the name of the service it is about.", field="service")
    title = " ".join((signal.title or "").split())
    if not title:
        raise InvalidSignal("A signal needs a title.", field="title")
    hint_key = (signal.severity_hint or "").strip().lower()
    if hint_key not in SEVERITY_HINT_ALIASES:
        raise InvalidSignal(
            f"Unknown severity {signal.severity_hint!r}; use critical, high, warning or info.",
            field="severity_hint",
        )
    status = (signal.status or "firing").strip().lower()
    if status not in _STATUSES:
        raise InvalidSignal(f"Unknown status {signal.status!r}.", field="status")
    occurred_at = _check_time(signal.occurred_at, now=now)
    received_at = signal.received_at or now
    if timezone.is_naive(received_at):
        raise InvalidSignal("received_at needs a time zone.", field="received_at")
    labels = _check_labels(signal.labels)
    payload = dict(signal.payload or {})
    try:
        size = len(orjson.dumps(payload, option=orjson.OPT_NON_STR_KEYS)) if payload else 2
    except TypeError as exc:
        raise InvalidSignal(f"The payload is not JSON: {exc}.", field="payload") from exc
    if size > MAX_PAYLOAD_BYTES:
        raise InvalidSignal(
            f"The payload is {size} bytes; the limit is {MAX_PAYLOAD_BYTES}.", field="payload"
        )
    links = []
    for link in signal.links or ():
        if not isinstance(link, Mapping) or not str(link.get("href") or "").strip():
            raise InvalidSignal("Each link needs an href.", field="links")
        links.append({"href": str(link["href"]), "text": str(link.get("text") or link["href"])})
    kpis = tuple(sorted({str(k).strip() for k in signal.kpis or () if str(k).strip()}))
    fingerprint = (signal.fingerprint or "").strip()[:255] or derive_fingerprint(
        source_kind=signal.source_kind, service=service, labels=labels, title=title
    )
    return dataclasses.replace(
        signal,
        service=service,
        title=title[:MAX_TITLE_CHARS],
        source_name=(signal.source_name or signal.source_kind)[:100],
        severity_hint=SEVERITY_HINT_ALIASES[hint_key],
        status=status,
        occurred_at=occurred_at,
        received_at=received_at,
        labels=labels,
        payload=payload,
        links=tuple(links),
        kpis=kpis,
        fingerprint=fingerprint,
    )


def _check_time(value: datetime | None, *, now: datetime) -> datetime:
    if value is None:
        return now
    if not isinstance(value, datetime):
        raise InvalidSignal("occurred_at must be a datetime.", field="occurred_at")
    if timezone.is_naive(value):
        raise InvalidSignal("occurred_at needs a time zone.", field="occurred_at")
    if value > now + MAX_FUTURE_SKEW:
        raise InvalidSignal("occurred_at is more than a day in the future.", field="occurred_at")
    if value < now - MAX_PAST_AGE:
        raise InvalidSignal("occurred_at is more than a year in the past.", field="occurred_at")
    return value


def _check_labels(labels: Mapping[str, Any] | None) -> dict[str, str]:
    if labels is None:
        return {}
    if not isinstance(labels, Mapping):
        raise InvalidSignal("labels must be a mapping of names to values.", field="labels")
    if len(labels) > MAX_LABELS:
        raise InvalidSignal(f"At most {MAX_LABELS} labels.", field="labels")
    clean: dict[str, str] = {}
    for key, value in labels.items():
        name = str(key).strip()
        if not name or len(name) > MAX_LABEL_NAME_CHARS:
            raise InvalidSignal(f"Bad label name {key!r}.", field="labels")
        text = "" if value is None else str(value)
        clean[name] = text[:MAX_LABEL_CHARS]
    return clean
