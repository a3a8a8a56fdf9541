"""Severity classifier: learns Level 1-4 from past incidents (operator corrections included) and proposes one."""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import joblib
import numpy as np
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from core.exceptions import DomainError
from incidents import events
from incidents.choices import IncidentStatus
from incidents.models import Incident, SeverityClassifier

from .severity import HINT_RANK

# Below this many labelled incidents a model mostly memorises the demo; the rules are better.
MIN_TRAINING_INCIDENTS = 50
HELD_OUT_SHARE = 0.25  # a quarter kept aside to report an honest accuracy
CACHE_SECONDS = 30  # how long a worker trusts its idea of which classifier is active
FEATURE_NAMES = ["services", "worst_tier", "tier1_services", "kpis", "hint_rank", "alerts", "log_duration"]

_cache: dict[str, Any] = {"checked": 0.0, "row": None, "model": None}


class NotEnoughHistory(DomainError):
    code = "not_enough_history"


@dataclass(frozen=True, slots=True, kw_only=True)
class TrainingResult:
    classifier_id: int
    samples: int
    accuracy: float
    per_level: dict[int, int]


@dataclass(frozen=True, slots=True, kw_only=True)
class Proposal:
    level: int
    confidence: float


def feature_vector(features: dict[str, Any]) -> list[float]:
    tiers = list((features.get("services") or {}).values()) or [4]
    return [
        float(len(tiers)),
        float(min(tiers)),
        float(sum(1 for t in tiers if t == 1)),
        float(len(features.get("kpis") or ())),
        float(HINT_RANK.get(features.get("hint") or "", 5)),
        float(features.get("alerts") or 1),
        math.log1p(float(features.get("duration_minutes") or 0.0)),
    ]


def training_rows() -> tuple[np.ndarray, np.ndarray]:
    """Past incidents (resolved or closed) and the level they ended with, overrides being the truth."""
    rows = Incident.objects.filter(status__in=[IncidentStatus.RESOLVED, IncidentStatus.CLOSED],
                                   is_drill=False).values_list(
        "severity_features", "severity"
    )
    X = [feature_vector(f or {}) for f, _ in rows]
    y = [level for _, level in rows]
    return np.asarray(X, dtype=float).reshape(-1, len(FEATURE_NAMES)), np.asarray(y, dtype=int)


def severity_classifier_train(*, min_samples: int = MIN_TRAINING_INCIDENTS, seed: int = 0) -> TrainingResult:
    """Fit a random forest on past incidents; refuses with too little history or a single level."""
    # scikit-learn is only needed to train: keep its import cost out of every web and worker start.
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.model_selection import train_test_split

    X, y = training_rows()
    if len(y) < min_samples:
        raise NotEnoughHistory(f"{len(y)} past incidents; at least {min_samples} are needed to train.")
    levels, counts = np.unique(y, return_counts=True)
    if len(levels) < 2:
        raise NotEnoughHistory("Every past incident has the same level; there is nothing to learn.")
    stratify = y if counts.min() >= 2 else None
    X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=HELD_OUT_SHARE, random_state=seed,
                                                        stratify=stratify)
    # Shallow trees: a handful of features and a few hundred rows; depth 6 avoids memorising.
    model = RandomForestClassifier(n_estimators=100, max_depth=6, random_state=seed, class_weight="balanced")
    model.fit(X_train, y_train)
    accuracy = float((model.predict(X_test) == y_test).mean()) if len(y_test) else 0.0
    model.fit(X, y)  # the shipped model learns from everything
    directory = Path(settings.ARTIFACT_DIR) / "severity"
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"classifier-{timezone.now():%Y%m%dT%H%M%S%f}.joblib"
    joblib.dump(model, path)
    with transaction.atomic():
        SeverityClassifier.objects.filter(enabled=True).update(enabled=False)
        row = SeverityClassifier.objects.create(samples=len(y), accuracy=accuracy, artifact=str(path),
                                                feature_names=FEATURE_NAMES, enabled=True)
    classifier_cache_clear()
    return TrainingResult(classifier_id=row.pk, samples=len(y), accuracy=accuracy,
                          per_level={int(lvl): int(n) for lvl, n in zip(levels, counts, strict=True)})


def classifier_cache_clear() -> None:
    _cache.update(checked=0.0, row=None, model=None)


def _active_model() -> Any:
    if not getattr(settings, "SEVERITY_CLASSIFIER_ENABLED", True):
        return None
    if time.monotonic() - _cache["checked"] > CACHE_SECONDS:
        row = SeverityClassifier.objects.filter(enabled=True).first()
        if row is None or _cache["row"] is None or row.pk != _cache["row"].pk:
            model = None
            if row is not None and Path(row.artifact).exists():
                model = joblib.load(row.artifact)
            _cache.update(row=row, model=model)
        _cache["checked"] = time.monotonic()
    return _cache["model"]


def classifier_active() -> bool:
    """Whether a classifier proposes levels now (then every join stores its proposal)."""
    return _active_model() is not None


def severity_propose(*, features: dict[str, Any]) -> Proposal | None:
    """The active classifier's level and confidence for these features, or None when it is off."""
    model = _active_model()
    if model is None:
        return None
    proba = model.predict_proba(np.asarray([feature_vector(features)], dtype=float))[0]
    best = int(np.argmax(proba))
    return Proposal(level=int(model.classes_[best]), confidence=float(proba[best]))


def incident_apply_proposal(*, incident: Incident, at: datetime | None = None) -> Proposal | None:
    """Store the classifier's proposal on the incident (caller saves); timeline entry when it changes."""
    proposal = severity_propose(features=incident.severity_features)
    if proposal is None:
        return None
    changed = proposal.level != incident.proposed_severity
    incident.proposed_severity, incident.proposed_confidence = proposal.level, round(proposal.confidence, 3)
    if changed and incident.pk:
        events.severity_proposed(incident=incident, level=proposal.level, confidence=proposal.confidence)
    return proposal
