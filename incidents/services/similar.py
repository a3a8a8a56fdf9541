"""Similar past incidents and what resolved them.

An incident is described by its text (title, alert titles, label pairs, services involved, root-cause
candidates) and structured facts (service, team, level, services involved, alert fingerprints). Past
resolved incidents are held in an in-process index (TF-IDF matrix + arrays), rebuilt when the set of
resolved incidents changes. Order: exact recurrence (an alert fingerprint or grouping key in common), then
similarity, then whether a resolution or review was recorded.
"""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from django.db.models import Max, Prefetch
from django.urls import reverse
from sklearn.feature_extraction.text import TfidfVectorizer

from incidents.choices import IncidentStatus, ReviewStatus, StepStatus
from incidents.models import Alert, Incident, PlaybookStepRun, PostIncidentReview, TimelineEvent
from incidents.panels import Panel, panel_register

from .rootcause import incident_rootcause

TEXT_WEIGHT = 0.6  # the words carry most of the meaning; the structure separates same-words-other-service
SERVICE_WEIGHT = 0.2  # same primary service
OVERLAP_WEIGHT = 0.15  # Jaccard of the services involved
SEVERITY_WEIGHT = 0.05  # same level: a tie-breaker more than a signal
SIMILARITY_DECIMALS = 2  # similarities this close are ties, so "has a resolution" decides between them
MIN_SIMILARITY = 0.2  # below this a "similar" incident is noise: show nothing rather than it
LIMIT = 5
RESOLVED = (IncidentStatus.RESOLVED, IncidentStatus.CLOSED)
MAX_ALERTS_PER_INCIDENT = 50  # an alert storm's text is its first alerts repeated
ROOT_CAUSES = 3  # probable root-cause services added to an incident's words


@dataclass(frozen=True, slots=True, kw_only=True)
class IncidentDoc:
    id: int
    text: str
    service: str
    severity: int = 3
    services: frozenset[str] = frozenset()
    fingerprints: frozenset[str] = frozenset()  # alert fingerprints and the grouping key
    has_resolution: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Match:
    id: int
    similarity: float
    recurrence: bool
    has_resolution: bool


@dataclass(slots=True)
class SimilarIndex:
    """TF-IDF over past incidents plus arrays of their structured facts; `query` is a few vector ops."""

    docs: list[IncidentDoc]
    vectorizer: TfidfVectorizer | None = None
    matrix: Any = None
    service_codes: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    severities: np.ndarray = field(default_factory=lambda: np.zeros(0, int))
    by_fingerprint: dict[str, list[int]] = field(default_factory=dict)
    service_ids: dict[str, int] = field(default_factory=dict)

    @classmethod
    def build(cls, docs: Sequence[IncidentDoc]) -> SimilarIndex:
        index = cls(docs=list(docs))
        if not docs:
            return index
        index.vectorizer = TfidfVectorizer(token_pattern=r"(?u)\b[\w.:=/-]{2,}\b", sublinear_tf=True,
                                           min_df=1, dtype=np.float32)
        index.matrix = index.vectorizer.fit_transform([d.text for d in docs]).tocsr()
        index.service_ids = {s: i for i, s in enumerate(sorted({d.service for d in docs}))}
        index.service_codes = np.array([index.service_ids[d.service] for d in docs])
        index.severities = np.array([d.severity for d in docs])
        for row, d in enumerate(docs):
            for fp in d.fingerprints:
                index.by_fingerprint.setdefault(fp, []).append(row)
        return index

    def query(self, doc: IncidentDoc, *, limit: int = LIMIT, exclude: int | None = None) -> list[Match]:
        if not self.docs or self.vectorizer is None:
            return []
        text = np.asarray((self.matrix @ self.vectorizer.transform([doc.text]).T).todense()).ravel()
        service = self.service_codes == self.service_ids.get(doc.service, -1)
        score = TEXT_WEIGHT * text + SERVICE_WEIGHT * service + SEVERITY_WEIGHT * (self.severities == doc.severity)
        recurring = {row for fp in doc.fingerprints for row in self.by_fingerprint.get(fp, ())}
        # Services-involved overlap only for the rows worth ranking (a set per row would cost too much).
        pool = max(limit * 8, 40)
        top = np.argpartition(-score, min(pool, len(score) - 1))[:pool] if len(score) > pool else np.arange(len(score))
        rows = set(top.tolist()) | recurring
        matches = []
        for row in rows:
            d = self.docs[row]
            if d.id == exclude:
                continue
            union = doc.services | d.services
            overlap = len(doc.services & d.services) / len(union) if union else 0.0
            sim = round(float(score[row]) + OVERLAP_WEIGHT * overlap, SIMILARITY_DECIMALS)
            if row in recurring or sim >= MIN_SIMILARITY:
                matches.append(Match(id=d.id, similarity=sim, recurrence=row in recurring,
                                     has_resolution=d.has_resolution))
        matches.sort(key=lambda m: (not m.recurrence, -m.similarity, not m.has_resolution, -m.id))
        return matches[:limit]


# --- from the database ----------------------------------------------------------------------------

def incident_doc(incident: Incident, *, alerts: Sequence[Alert] | None = None,
                 extra: Sequence[str] = ()) -> IncidentDoc:
    alerts = list(alerts if alerts is not None else incident.alerts.all()[:MAX_ALERTS_PER_INCIDENT])
    services = frozenset({incident.service.name} | {a.service.name for a in alerts})
    words = [incident.title, incident.service.name, *(a.title for a in alerts), *sorted(services), *extra]
    words += [f"{k}={v}" for a in alerts for k, v in sorted((a.labels or {}).items()) if len(str(v)) < 60]
    fingerprints = {a.fingerprint for a in alerts}
    if incident.grouping_key:
        fingerprints.add(f"group:{incident.grouping_key}")
    return IncidentDoc(id=incident.pk, text=" ".join(words), service=incident.service.name,
                       severity=incident.severity, services=services, fingerprints=frozenset(fingerprints),
                       has_resolution=bool(incident.resolution.strip()) or review_of(incident) is not None)


def review_of(incident: Incident) -> dict[str, Any] | None:
    """The incident's post-incident review (issue 11): status, summary and contributing factors, with its page."""
    try:
        review = incident.review
    except PostIncidentReview.DoesNotExist:
        return None
    return {
        "status": review.status,
        "published": review.status == ReviewStatus.PUBLISHED,
        "summary": review.summary,
        "contributing_factors": [
            {"category": str(f.get("category", "")), "text": str(f.get("text", ""))}
            for f in review.contributing_factors or [] if isinstance(f, dict)
        ],
        "url": reverse("incidents:review", args=[incident.pk]),
    }


_lock = threading.Lock()
_cached: tuple[tuple[Any, ...], SimilarIndex] | None = None


def similar_index() -> SimilarIndex:
    """The index of resolved incidents, rebuilt when their count or newest resolution changes."""
    global _cached
    resolved = Incident.objects.filter(status__in=RESOLVED, is_drill=False)  # drills teach nothing about faults
    stamp = resolved.aggregate(n=Max("id"), at=Max("resolved_at"))
    key = (resolved.count(), stamp["n"], stamp["at"])
    with _lock:
        if _cached is not None and _cached[0] == key:
            return _cached[1]
    alerts = Prefetch("alerts", queryset=Alert.objects.select_related("service").only(
        "incident_id", "title", "labels", "fingerprint", "service__name"))
    docs = [incident_doc(i) for i in resolved.select_related("service", "review").prefetch_related(alerts)]
    index = SimilarIndex.build(docs)
    with _lock:
        _cached = (key, index)
    return index


def _resolution_notes(incident: Incident) -> list[str]:
    notes = [incident.resolution] if incident.resolution.strip() else []
    notes += list(TimelineEvent.objects.filter(incident=incident, kind="note")
                  .exclude(message="").order_by("-at").values_list("message", flat=True)[:3])
    return list(dict.fromkeys(notes))  # same text once


def similar_incidents(*, incident: Incident, limit: int = LIMIT, candidates: Sequence[str] | None = None
                      ) -> dict[str, Any]:
    """The most similar resolved incidents with what resolved them, and the playbook to suggest.

    The probable root-cause services (top three, from the cached ranking) join the incident's words: a past
    incident on the service the fault comes from is similar even when the alerts fired elsewhere.
    """
    if candidates is None:
        candidates = [c["service"] for c in incident_rootcause(incident=incident)["candidates"][:ROOT_CAUSES]
                      if c["score"] > 0]
    doc = incident_doc(incident, extra=candidates)
    matches = similar_index().query(doc, limit=limit, exclude=incident.pk)
    rows = {i.pk: i for i in Incident.objects.filter(pk__in=[m.id for m in matches]).select_related(
        "service", "playbook_run", "review")}
    out = []
    votes: Counter[str] = Counter()
    steps_by_playbook: dict[str, list[str]] = {}
    from_incidents: dict[str, list[int]] = {}
    for rank, m in enumerate(matches):
        past = rows.get(m.id)
        if past is None:
            continue
        run = getattr(past, "playbook_run", None) if hasattr(past, "playbook_run") else None
        done = list(PlaybookStepRun.objects.filter(run=run, status=StepStatus.DONE).order_by("position")
                    .values_list("title", flat=True)) if run else []
        if run is not None:
            votes[run.playbook_name] += (limit - rank) * (2 if m.recurrence else 1)
            steps_by_playbook.setdefault(run.playbook_name, done)
            from_incidents.setdefault(run.playbook_name, []).append(past.pk)
        out.append({
            "id": past.pk, "title": past.title, "service": past.service.name, "severity": past.severity,
            "resolved_at": past.resolved_at.isoformat() if past.resolved_at else None,
            "similarity": m.similarity, "recurrence": m.recurrence,
            "resolution_notes": _resolution_notes(past), "review": review_of(past),
            "playbook": run.playbook_name if run else None, "steps_done": done,
        })
    suggestion = None
    if votes:
        name = votes.most_common(1)[0][0]
        suggestion = {"playbook": name, "steps": steps_by_playbook[name], "from_incidents": from_incidents[name]}
    return {"incident": incident.pk, "similar": out, "suggestion": suggestion}


@panel_register("similar")
def similar_panel(*, incident, user) -> Panel | None:
    data = similar_incidents(incident=incident)
    if not data["similar"]:
        return None
    return Panel(key="similar", title="Similar past incidents", template="incidents/panels/_similar.html",
                 data=data, order=40)
