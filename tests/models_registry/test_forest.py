"""Compiled trees score exactly as scikit-learn does, and the pipeline falls back when they would not."""
from __future__ import annotations

import copy
from datetime import UTC, datetime

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

from models_registry.pipelines import get_pipeline
from models_registry.pipelines.forest import ForestUnsupported, forest_compile


def _with_awkward_rows(matrix: np.ndarray, pipeline) -> np.ndarray:
    """Missing numbers, categories unseen in training and codes the encoder never saw."""
    rows = matrix.copy()
    carrier, dest = pipeline.features.index("carrier"), pipeline.features.index("dest")
    temp, gust = pipeline.features.index("temp"), pipeline.features.index("wind_gust")
    rows[::5, carrier] = np.nan  # an unseen carrier encodes to NaN
    rows[1::7, dest] = 10_000  # a code beyond every table
    rows[2::9, temp] = np.nan
    rows[3::4, gust] = np.nan
    return rows


@pytest.fixture(scope="module", params=["flights.journey_time", "flights.stuck_journey"])
def small_fit(request):
    pipeline = get_pipeline(request.param)
    train = pipeline.load(start=datetime(2013, 1, 10, tzinfo=UTC), end=datetime(2013, 1, 20, tzinfo=UTC)).frame
    later = pipeline.load(start=datetime(2013, 1, 20, tzinfo=UTC), end=datetime(2013, 1, 27, tzinfo=UTC)).frame
    fitted = pipeline.fit(features=pipeline.build_features(train), target=train["target"].to_numpy(),
                          params={"max_iter": 30})
    return pipeline, fitted, pipeline.build_features(later)


def test_compiled_trees_give_the_estimators_scores_bit_for_bit(small_fit):
    pipeline, fitted, later = small_fit
    matrix = _with_awkward_rows(pipeline.encode(later, fitted.categories), pipeline)

    compiled = forest_compile(fitted.estimator).scores(matrix)

    assert np.array_equal(compiled, pipeline.estimator_scores(fitted.estimator, matrix))


def test_the_pipeline_scores_with_the_compiled_trees_once_they_match_the_reference(small_fit):
    pipeline, fitted, later = small_fit

    assert pipeline.compiled_forest(fitted) is not None
    assert np.array_equal(
        pipeline.predict(fitted, later),
        pipeline.estimator_scores(fitted.estimator, pipeline.encode(later, fitted.categories)),
    )


def test_trees_that_disagree_with_the_reference_are_not_used(small_fit):
    pipeline, fitted, later = small_fit
    # A copy whose stored reference scores differ: the compiled trees cannot reproduce them.
    doctored = copy.deepcopy(fitted)
    doctored.reference = doctored.reference.assign(prediction=doctored.reference["prediction"] + 1e-9)

    assert pipeline.compiled_forest(doctored) is None
    assert np.array_equal(
        pipeline.predict(doctored, later),
        pipeline.estimator_scores(doctored.estimator, pipeline.encode(later, doctored.categories)),
    )


def test_a_fit_without_reference_is_scored_by_the_estimator(small_fit):
    pipeline, fitted, later = small_fit
    bare = copy.deepcopy(fitted)
    bare.reference = None

    assert pipeline.compiled_forest(bare) is None
    assert len(pipeline.predict(bare, later)) == len(later)


@pytest.mark.parametrize(
    ("case", "make"),
    [
        ("regressor_numeric_only", lambda: HistGradientBoostingRegressor(max_iter=15, random_state=0)),
        ("regressor_with_categories", lambda: HistGradientBoostingRegressor(
            max_iter=15, categorical_features=[True, False, False], random_state=0)),
        ("binary_classifier_with_categories", lambda: HistGradientBoostingClassifier(
            max_iter=15, categorical_features=[True, False, False], random_state=0)),
    ],
)
def test_synthetic_estimators_compile_to_the_same_scores(case, make):
    rng = np.random.default_rng(1)
    n = 3_000
    x = np.column_stack([rng.integers(0, 12, n).astype(float), rng.normal(size=n), rng.normal(size=n)])
    x[rng.random(n) < 0.1, 1] = np.nan
    y = 3.0 * (x[:, 0] % 3 == 0) + np.nan_to_num(x[:, 1]) + rng.normal(scale=0.1, size=n)
    estimator = make()
    classifier = isinstance(estimator, HistGradientBoostingClassifier)
    estimator.fit(x, (y > 1.0).astype(int) if classifier else y)
    test = x.copy()
    test[::11, 0] = 40.0  # a category never seen in training
    test[::13, 2] = np.nan

    compiled = forest_compile(estimator).scores(test)

    expected = estimator.predict_proba(test)[:, 1] if classifier else estimator.predict(test)
    assert np.array_equal(compiled, expected), case


def test_a_multiclass_classifier_is_left_to_scikit_learn():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(300, 2))
    estimator = HistGradientBoostingClassifier(max_iter=5).fit(x, rng.integers(0, 3, 300))

    with pytest.raises(ForestUnsupported):
        forest_compile(estimator)
