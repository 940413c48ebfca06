"""Bad input to the scikit-learn estimators: fit / predict reject it, a fitted estimator stays fitted.

Errors may come from scikit-learn's own validation (``validate_data``), whose messages are clear.
"""

from __future__ import annotations

import copy
import functools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.estimators import (
    CBRNNClassifier,
    CBRNNRegressor,
    CerebellarReservoirClassifier,
    CerebellarReservoirRegressor,
)
from tests.support import FEATURES, assert_rejected, malformed_series, nonfinite_series, random_data

HYPOTHESIS = settings(max_examples=15, deadline=None)
RESERVOIR = {"units": 5, "n_granule": 8, "random_state": 0}
CBRNN = {"units": 3, "n_granule": 4, "n_purkinje": 2, "epochs": 1, "batch_size": 3, "random_state": 0}
ESTIMATORS = {
    "CerebellarReservoirClassifier": (CerebellarReservoirClassifier, RESERVOIR, True),
    "CerebellarReservoirRegressor": (CerebellarReservoirRegressor, RESERVOIR, False),
    "CBRNNClassifier": (CBRNNClassifier, CBRNN, True),
    "CBRNNRegressor": (CBRNNRegressor, CBRNN, False),
}
X_TRAIN = random_data((6, 5, FEATURES))


def _targets(classifier: bool) -> np.ndarray:
    return np.arange(6) % 2 if classifier else random_data((6,), 1)


@functools.cache
def _fitted_once(name: str):
    estimator_class, parameters, classifier = ESTIMATORS[name]
    return estimator_class(**parameters).fit(X_TRAIN, _targets(classifier))


def _fitted(name: str):
    """A fresh copy of the fitted estimator ``name`` (fitted once per test process)."""
    return copy.deepcopy(_fitted_once(name))


def _rejected_keeps_predictions(name: str, call_on, match: str | None = None) -> None:
    """A rejected call on a fitted estimator leaves its predictions unchanged."""
    estimator = _fitted(name)
    before = estimator.predict(X_TRAIN)
    assert_rejected(f"{name}", lambda: call_on(estimator), match=match, origins=("sklearn",))
    np.testing.assert_array_equal(estimator.predict(X_TRAIN), before)


def _invalid_for_scikit_learn(bad: tuple[str, object]) -> bool:
    """Leave out what scikit-learn converts to a 2-D float series: a list of 1-D rows, numbers held in
    object or string arrays. The empty batch is tested on its own below."""
    match, x = bad
    converted = isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind in "OU"
    return match not in ("at least one series", "time, features") and not converted


BAD_SERIES = st.one_of(nonfinite_series(), malformed_series().filter(_invalid_for_scikit_learn))


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@HYPOTHESIS
@given(bad=BAD_SERIES)
def test_predict_rejects_bad_series(name: str, bad: tuple[str, object]) -> None:
    _rejected_keeps_predictions(name, lambda estimator: estimator.predict(bad[1]))


@pytest.mark.parametrize("name", ["CerebellarReservoirRegressor", "CBRNNClassifier"])
@HYPOTHESIS
@given(bad=BAD_SERIES)
def test_fit_rejects_bad_series(name: str, bad: tuple[str, object]) -> None:
    x = bad[1]
    n_series = len(x) if isinstance(x, (list, tuple)) or np.ndim(x) == 3 else 1
    y = _targets(ESTIMATORS[name][2])[: max(n_series, 1)]
    _rejected_keeps_predictions(name, lambda estimator: estimator.fit(x, y))


@st.composite
def bad_targets(draw: st.DrawFn, classifier: bool) -> tuple[str, object]:
    kind = draw(st.sampled_from(["count", "nonfinite", "ndim", "none", "steps"]))
    if kind == "count":
        return "series|targets", _targets(classifier)[: draw(st.integers(1, 5))]
    if kind == "nonfinite":
        y = _targets(classifier).astype(float)
        y[draw(st.integers(0, 5))] = draw(st.sampled_from([np.nan, np.inf]))
        return "nan|infinity", y
    if kind == "ndim":
        return "shape", np.zeros((6, 5, 1, 1))
    if kind == "none":
        return "y", None
    ragged = [random_data((5, FEATURES))] * 2
    return "steps", (ragged, [np.zeros(5), np.zeros(draw(st.integers(1, 4)))])


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
@HYPOTHESIS
@given(data=st.data())
def test_fit_rejects_mismatched_targets(name: str, data: st.DataObject) -> None:
    match, y = data.draw(bad_targets(ESTIMATORS[name][2]))
    x, y = y if isinstance(y, tuple) else (X_TRAIN, y)
    _rejected_keeps_predictions(name, lambda estimator: estimator.fit(x, y), match=match)


@pytest.mark.parametrize("name", sorted(ESTIMATORS))
def test_predict_rejects_other_feature_count(name: str) -> None:
    _rejected_keeps_predictions(
        name, lambda estimator: estimator.predict(random_data((2, 5, FEATURES + 1))), match="features"
    )


@pytest.mark.parametrize(
    "name, parameters, match",
    [
        ("CerebellarReservoirClassifier", {"units": 0}, "units"),
        ("CerebellarReservoirClassifier", {"lr": 0.0}, "lr"),
        ("CerebellarReservoirRegressor", {"alpha": -1.0}, "ridge"),
        ("CerebellarReservoirRegressor", {"n_granule": 0}, "n_granule"),
        ("CerebellarReservoirRegressor", {"coding_level": 2.0}, "coding_level"),
        ("CerebellarReservoirRegressor", {"random_state": "x"}, "seed"),
        ("CBRNNClassifier", {"units": 0}, "units"),
        ("CBRNNClassifier", {"lr": 1.5}, "lr"),
        ("CBRNNClassifier", {"epochs": 0}, "epochs"),
        ("CBRNNClassifier", {"batch_size": 0}, "batch_size"),
        ("CBRNNRegressor", {"learning_rate": -1.0}, "learning_rate"),
        ("CBRNNRegressor", {"optimizer": "rmsprop"}, "optimizer"),
        ("CBRNNRegressor", {"core_epochs": -1}, "core_epochs"),
        ("CBRNNRegressor", {"clip_norm": 0.0}, "clip_norm"),
        ("CerebellarReservoirRegressor", {"sr": -1.0}, "sr"),
        ("CerebellarReservoirRegressor", {"rc_connectivity": 1.5}, "rc_connectivity"),
    ],
)
def test_fit_rejects_bad_hyperparameters(name: str, parameters: dict, match: str) -> None:
    estimator_class, defaults, classifier = ESTIMATORS[name]
    estimator = estimator_class(**{**defaults, **parameters})
    call = lambda: estimator.fit(X_TRAIN, _targets(classifier))  # noqa: E731
    assert_rejected(f"{name}()", call, match=match, origins=("sklearn",))


@pytest.mark.parametrize("name", ["CerebellarReservoirRegressor", "CBRNNClassifier"])
def test_fit_rejects_empty_batch(name: str) -> None:
    _rejected_keeps_predictions(
        name, lambda estimator: estimator.fit(X_TRAIN[:0], np.zeros(0)), match="at least one|empty"
    )
