"""Fixtures shared by the monitor tests: one small January fit, stored as a model's champion."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models_registry.artifacts import artifact_save
from models_registry.choices import VersionAlias, VersionStatus
from models_registry.models import ModelVersion
from models_registry.pipelines import get_pipeline
from models_registry.services import registered_model_get_or_create

FEB = datetime(2013, 2, 1, tzinfo=UTC)
MAR = datetime(2013, 3, 1, tzinfo=UTC)
KPI = "Call-centre contacts from late journeys"


@pytest.fixture(scope="module")
def january_fit():
    """One small journey-time fit on January 2013 (pure, no database), shared by the module's tests."""
    pipeline = get_pipeline("flights.journey_time")
    train = pipeline.load(start=datetime(2013, 1, 11, tzinfo=UTC), end=datetime(2013, 1, 25, tzinfo=UTC)).frame
    holdout = pipeline.load(start=datetime(2013, 1, 25, tzinfo=UTC), end=FEB).frame
    fitted = pipeline.fit(
        features=pipeline.build_features(train), target=train["target"].to_numpy(), params={"max_iter": 30}
    )
    metrics = pipeline.evaluate(
        target=holdout["target"].to_numpy(), predicted=pipeline.predict(fitted, pipeline.build_features(holdout))
    )
    return fitted, metrics


@pytest.fixture
def champion_model(db, make_service, january_fit):
    """journey-time model whose champion v1 is the January fit (stored as a real, hashed artifact)."""
    fitted, metrics = january_fit
    service = make_service("journey-eta-model")
    model = registered_model_get_or_create(
        name="journey-time", pipeline="flights.journey_time", team=service.team, service=service, business_kpi=KPI
    )
    path, sha = artifact_save(obj=fitted, relative_path="journey-time/v1.joblib")
    ModelVersion.objects.create(
        model=model, version=1, alias=VersionAlias.CHAMPION, status=VersionStatus.CHAMPION, data_fingerprint="0" * 64,
        train_start=datetime(2013, 1, 11, tzinfo=UTC), train_end=datetime(2013, 1, 25, tzinfo=UTC),
        holdout_start=datetime(2013, 1, 25, tzinfo=UTC), holdout_end=FEB, features=fitted.features,
        params=fitted.params, code_version="test", metrics=metrics, artifact_path=path, artifact_sha256=sha,
    )
    return model
