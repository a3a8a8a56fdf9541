"""Alert intake parsers: a small base class turning an agent's JSON into incident-core signals.

Each format (Alertmanager, Grafana, PagerDuty Events v2) is one module with one `IntakeParser`
subclass registered by kind. A parser validates everything a request carries and either returns
the signals it stands for or raises `IntakeInvalid` listing every problem, so the view can answer
400 before anything is stored and the ingest task can never fail on the same bytes.
"""
from __future__ import annotations

import dataclasses
import hashlib
import time
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, ClassVar

import orjson

from core.api.parsers import depth_problem, json_too_deep
from core.exceptions import InvalidInput
from core.models import Integration, Service
from core.permissions import SERVICE_SCOPE_SECONDS, ServiceScope, integration_service_scope
from incidents.contracts import InvalidSignal, SignalIn, signal_normalise

# The limit on one request; Alertmanager truncates groups long before this.
MAX_BODY_BYTES = 1024 * 1024
# The incident core refuses larger signal payloads; check it here so the task never sees one.
MAX_SIGNAL_PAYLOAD_BYTES = 512 * 1024
# A title is a headline in lists and notifications; longer text belongs in the description.
MAX_TITLE_CHARS = 200
MAX_DESCRIPTION_CHARS = 20_000
# Stop listing problems after this many: a 1 MB body of bad alerts must not build a huge answer.
MAX_ERRORS = 20


class IntakeInvalid(InvalidInput):
    """A request we cannot accept; `errors` names each problem by its JSON path."""

    code = "invalid_alert"

    def __init__(self, errors: list[str]) -> None:
        self.errors = errors[:MAX_ERRORS]
        super().__init__("; ".join(self.errors), field=None)


@dataclass(frozen=True, slots=True, kw_only=True)
class ParsedIntake:
    signals: tuple[SignalIn, ...]
    # sha256 hex of what makes a notification "the same one again" (a sender's retry).
    content_key: str
    # PagerDuty's dedup_key answered to the sender ("" for the webhook formats).
    dedup_key: str = ""


@dataclass(slots=True, kw_only=True)
class SignalDraft:
    """A signal before its service is resolved (one query for the whole request)."""

    service_candidates: tuple[str, ...]
    fields: dict[str, Any] = field(default_factory=dict)
    path: str = ""


class Problems:
    """Collects validation errors with their paths; raises them all at once."""

    def __init__(self) -> None:
        self.errors: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.errors.append(f"{path}: {message}" if path else message)

    def raise_if_any(self) -> None:
        if self.errors:
            raise IntakeInvalid(self.errors)

    # Typed getters: return a default after recording a problem, so one pass finds them all.
    def string(self, obj: dict, key: str, path: str, *, required: bool = False, max_len: int | None = None) -> str:
        value = obj.get(key)
        if value is None:
            if required:
                self.add(f"{path}{key}", "is missing")
            return ""
        if not isinstance(value, str):
            self.add(f"{path}{key}", f"must be a string, not {json_type(value)}")
            return ""
        if required and not value.strip():
            self.add(f"{path}{key}", "is missing or blank")
        if max_len is not None and len(value) > max_len:
            self.add(f"{path}{key}", f"is longer than {max_len} characters")
        return value

    def string_map(self, obj: dict, key: str, path: str, *, required: bool = False) -> dict[str, str]:
        value = obj.get(key)
        if value is None:
            if required:
                self.add(f"{path}{key}", "is missing")
            return {}
        if not isinstance(value, dict):
            self.add(f"{path}{key}", f"must be an object of strings, not {json_type(value)}")
            return {}
        bad = [k for k, v in value.items() if not isinstance(v, str)]
        if bad:
            self.add(f"{path}{key}.{bad[0]}", f"must be a string, not {json_type(value[bad[0]])}")
            return {}
        return value

    def timestamp(self, obj: dict, key: str, path: str, *, required: bool = False) -> datetime | None:
        value = obj.get(key)
        if value is None:
            if required:
                self.add(f"{path}{key}", "is missing")
            return None
        if not isinstance(value, str):
            self.add(f"{path}{key}", f"must be an RFC 3339 timestamp string, not {json_type(value)}")
            return None
        parsed = parse_timestamp(value)
        if parsed is None:
            self.add(f"{path}{key}", f"{value[:40]!r} is not an RFC 3339 timestamp with a time zone")
        return parsed


def json_type(value: Any) -> str:
    return {dict: "an object", list: "an array", str: "a string", bool: "a boolean",
            int: "a number", float: "a number", type(None): "null"}.get(type(value), type(value).__name__)


def parse_timestamp(value: str) -> datetime | None:
    """RFC 3339 / ISO 8601 with a zone (nanoseconds allowed); None when it is not one.

    Go's zero time ("0001-01-01T00:00:00Z", Alertmanager's "not set") parses; callers treat
    year 1 as unset.
    """
    text = value.strip()
    if len(text) < 16 or "T" not in text.upper():
        return None
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        return None
    return parsed


def is_unset(moment: datetime | None) -> bool:
    return moment is None or moment.year <= 1


def decode_body(raw: bytes) -> dict[str, Any]:
    """The request body as a JSON object, or IntakeInvalid naming why not."""
    if len(raw) > MAX_BODY_BYTES:
        raise IntakeInvalid([f"body is larger than 1 MB ({len(raw)} bytes)"])
    if not raw.strip():
        raise IntakeInvalid(["body is empty; expected a JSON object"])
    try:
        # orjson refuses NaN/Infinity, unpaired surrogates and nesting deeper than 1024, none of
        # which PostgreSQL jsonb could store later.
        data = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        reason = "not UTF-8" if isinstance(exc.__cause__, UnicodeDecodeError) else f"not valid JSON: {exc}"
        raise IntakeInvalid([f"body is {reason}"]) from None
    if not isinstance(data, dict):
        raise IntakeInvalid([f"body must be a JSON object, not {json_type(data)}"])
    if json_too_deep(data):  # as the API's parser: deeper bodies break later (json.dumps, jsonb)
        raise IntakeInvalid([f"body is {depth_problem()}"])
    # PostgreSQL text cannot hold NUL; the cheap byte check finds candidates, the walk confirms.
    if b"\\u0000" in raw and _has_nul(data):
        raise IntakeInvalid(["body contains a NUL character (\\u0000)"])
    return data


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any("\x00" in k or _has_nul(v) for k, v in value.items())
    if isinstance(value, list):
        return any(_has_nul(v) for v in value)
    return False


def content_hash(material: Any) -> str:
    """sha256 hex of a JSON-able value in canonical form (sorted keys, no spaces)."""
    return hashlib.sha256(orjson.dumps(material, option=orjson.OPT_SORT_KEYS, default=str)).hexdigest()


def safe_links(candidates: list[tuple[Any, str]]) -> list[dict[str, str]]:
    """http(s) links only: a `javascript:` href from a sender must never reach our pages."""
    links = []
    for href, text in candidates:
        if isinstance(href, str) and href.startswith(("http://", "https://")) and len(href) <= 2000:
            links.append({"href": href, "text": text[:200]})
    return links


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


class IntakeParser(ABC):
    """One alert format. Subclasses implement `drafts`; `parse` resolves services and checks sizes."""

    kind: ClassVar[str]
    # Signal source kind in the incident core (same names as core IntegrationKind).
    source_kind: ClassVar[str]

    @abstractmethod
    def drafts(
        self, *, data: dict[str, Any], integration: Integration, received_at: datetime, problems: Problems
    ) -> tuple[list[SignalDraft], str, str]:
        """(signal drafts, content key, dedup key); record problems instead of raising."""

    def parse(
        self, *, data: dict[str, Any], integration: Integration, received_at: datetime, cached: bool = True,
        answers: dict[str, bool] | None = None,
    ) -> ParsedIntake:
        """The request's signals, or IntakeInvalid listing every problem.

        Service names are checked against the process's cache (`cached`, the request path), the
        database (`cached=False`), or `answers`: names already asked of the database in this
        batch of rows, to which new answers are added (the worker: one query per batch).
        """
        problems = Problems()
        drafts, key, dedup_key = self.drafts(
            data=data, integration=integration, received_at=received_at, problems=problems
        )
        problems.raise_if_any()
        # The worker re-reads the scope often, so it files by the admin's settings of the moment.
        fresh = answers is not None or not cached
        scope = integration_service_scope(
            integration=integration, max_age=WORKER_SCOPE_SECONDS if fresh else SERVICE_SCOPE_SECONDS
        )
        refused = self._refused_services(drafts, scope, cached=cached, answers=answers)
        signals = []
        for draft in drafts:
            service, requested = file_under(draft.service_candidates, scope=scope, refused=refused)
            if service is None:
                problems.add(draft.path, (
                    f"service {requested!r} is not one integration {integration.name!r} may file under, "
                    "and it has no default service" if requested else
                    "no service: send a `service` label naming a known service, "
                    "or give the integration a default service"
                ))
                continue
            fields = draft.fields
            if requested:
                # Filed under the integration's own service; the name asked for stays visible.
                fields = {**fields, "labels": {**fields.get("labels", {}), REQUESTED_SERVICE_LABEL: requested}}
            payload = fields.get("payload") or {}
            size = len(orjson.dumps(payload, default=str))
            if size > MAX_SIGNAL_PAYLOAD_BYTES:
                problems.add(draft.path, f"is larger than 512 KB ({size} bytes)")
                continue
            # Arrival (the request's time, also when a worker processes it later) sets the windows.
            signal = SignalIn(source_kind=self.source_kind, source_name=integration.name, service=service,
                              received_at=received_at, **fields)
            try:
                # The core's own checks (time range, labels, title), now rather than in the worker.
                normal = signal_normalise(signal)
            except InvalidSignal as exc:
                problems.add(f"{draft.path}", f"{exc.field}: {exc.message}" if exc.field else exc.message)
                continue
            # The sender's key (or the one the core derives) only dedups within this integration.
            signals.append(dataclasses.replace(signal, fingerprint=integration.scoped_fingerprint(normal.fingerprint)))
        problems.raise_if_any()
        return ParsedIntake(signals=tuple(signals), content_key=key, dedup_key=dedup_key)

    @staticmethod
    def _refused_services(drafts: list[SignalDraft], scope: ServiceScope, *, cached: bool,
                          answers: dict[str, bool] | None = None) -> set[str]:
        """Named services that exist but are outside the integration's scope (usually none)."""
        outside = {name for draft in drafts for name in draft.service_candidates if name and name not in scope.ids}
        return known_services(outside, cached=cached, answers=answers)


# How old an integration's service scope the worker files by: one read per integration per batch.
WORKER_SCOPE_SECONDS = 1.0
# Label recording the service an alert named when it was filed under its integration's own.
REQUESTED_SERVICE_LABEL = "aiops_requested_service"


def file_under(candidates: tuple[str, ...], *, scope: ServiceScope, refused: set[str]) -> tuple[str | None, str]:
    """(service to file under, service asked for but refused or "").

    The first candidate the integration may write to wins; else its default service, noting the
    first candidate that names a service it may not write to. A candidate naming no service at
    all (a PagerDuty `source` host name) is ignored, as before.
    """
    allowed = next((name for name in candidates if name in scope.ids), None)
    if allowed is not None:
        return allowed, ""
    requested = next((name for name in candidates if name in refused), "")
    return scope.default, requested


# Service names looked up, with whether they exist and until when that answer holds (monotonic
# seconds). The request path asks once per name per half minute instead of once per request (a
# name found missing is asked again after a few seconds, so a service created just now is soon
# recognised); the worker always asks the database, so a service deleted meanwhile falls back to
# the integration's default there.
SERVICE_NAME_TTL_SECONDS = 30
SERVICE_MISSING_TTL_SECONDS = 5
SERVICE_NAMES_KEPT = 10_000  # names are the senders' labels: bound the memory they can take
_known_services: dict[str, tuple[float, bool]] = {}


def known_services(names: set[str], *, cached: bool = True, answers: dict[str, bool] | None = None) -> set[str]:
    if not names:
        return set()
    if answers is not None:
        asked = names - answers.keys()
        if asked:
            found = set(Service.objects.filter(name__in=asked).values_list("name", flat=True))
            answers.update((name, name in found) for name in asked)
        return {name for name in names if answers[name]}
    now = time.monotonic()
    hits: set[str] = set()
    missing = set(names)
    if cached:
        for name in names:
            entry = _known_services.get(name)
            if entry is not None and entry[0] > now:
                missing.discard(name)
                if entry[1]:
                    hits.add(name)
    if missing:
        found = set(Service.objects.filter(name__in=missing).values_list("name", flat=True))
        if len(_known_services) > SERVICE_NAMES_KEPT:
            _known_services.clear()
        for name in missing:
            exists = name in found
            _known_services[name] = (
                now + (SERVICE_NAME_TTL_SECONDS if exists else SERVICE_MISSING_TTL_SECONDS),
                exists,
            )
        hits |= found
    return hits
