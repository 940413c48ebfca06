"""Pooled sequence-to-vector features and input standardisation of the closed-form estimators."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from cbreservoir.estimators import CerebellarReservoirClassifier, CerebellarReservoirRegressor
from cbreservoir.estimators._pooling import POOLINGS, check_pooling, pool_codes

#: The single-timescale, whole-series features of issue 18 (the classifier's defaults add more).
SMALL = dict(units=20, n_granule=30, lr=1.0, windows=1, differences=False, max_steps=None, random_state=0)


def test_pooled_features_by_hand():
    code = np.array([[0.0, 2.0], [1.0, 0.0], [3.0, 0.0], [0.0, 0.0]])  # 4 steps, 2 granule cells
    short = np.array([[0.5, 0.0]])  # a 1-step series
    features = pool_codes([code, short], ("last", "mean", "active"))
    np.testing.assert_allclose(
        features,
        [
            [0.0, 0.0, 1.0, 0.5, 0.5, 0.25],  # last; mean rate (4/4, 2/4); active in 2/4 and 1/4 steps
            [0.5, 0.0, 0.5, 0.0, 1.0, 0.0],
        ],
    )
    np.testing.assert_allclose(pool_codes([code], ("active", "last")), [[0.5, 0.25, 0.0, 0.0]])


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        arrays(np.float64, st.tuples(st.integers(1, 6), st.just(3)), elements=st.floats(0, 5)),
        min_size=1,
        max_size=4,
    )
)
def test_pooled_blocks_are_bounded_by_the_code(codes):
    features = pool_codes(codes, POOLINGS).reshape(len(codes), 3, 3)
    for g, (last, mean, active) in zip(codes, features, strict=True):
        np.testing.assert_array_equal(last, g[-1])
        assert np.all(mean >= g.min(axis=0) - 1e-12) and np.all(mean <= g.max(axis=0) + 1e-12)
        assert np.all((active >= 0) & (active <= 1)) and np.all((active > 0) == (g.max(axis=0) > 0))


@pytest.mark.parametrize(
    ("pooling", "error", "match"),
    [
        ("mean", TypeError, "tuple of names"),
        ((), ValueError, "at least one"),
        (("mean", "max"), ValueError, "distinct names"),
        (("mean", "mean"), ValueError, "distinct names"),
    ],
)
def test_bad_pooling_is_refused_before_fitting(pooling, error, match):
    X, y = np.zeros((4, 5, 1)), [0, 1, 0, 1]
    model = CerebellarReservoirClassifier(pooling=pooling, **SMALL)
    with pytest.raises(error, match=match):
        model.fit(X, y)
    assert not hasattr(model, "reservoir_")
    assert check_pooling(["last"], "x") == ("last",)


def _ragged(n, seed):
    rng = np.random.default_rng(seed)
    X = [rng.normal(size=(int(rng.integers(3, 12)), 2)) for _ in range(n)]
    return X, np.array([int(x[:, 0].mean() > 0) for x in X])


def test_the_readout_reads_the_pooled_granule_code_of_each_series():
    X, y = _ragged(12, seed=0)
    model = CerebellarReservoirClassifier(pooling=("mean", "last"), **SMALL).fit(X, y)
    model.reservoir_.reset()
    states = model.reservoir_.run([(x - model.input_mean_) / model.input_scale_ for x in X])
    expected = pool_codes(model.cerebellum_.run(states), ("mean", "last"))
    assert expected.shape == (12, 2 * 30)
    np.testing.assert_allclose(model._readout_inputs(model._validated_input(X), training=False), expected)
    scores = model.readout_.run((expected - model.feature_mean_) / model.feature_scale_)
    np.testing.assert_allclose(model.decision_function(X), scores[:, 1] - scores[:, 0])


def test_inputs_are_standardised_with_training_statistics_only():
    X, y = _ragged(10, seed=1)
    X = [3.0 + 5.0 * x for x in X]
    model = CerebellarReservoirClassifier(**SMALL).fit(X, y)
    steps = np.concatenate(X)
    np.testing.assert_allclose(model.input_mean_, steps.mean(axis=0))
    np.testing.assert_allclose(model.input_scale_, steps.std(axis=0))
    before = model.input_mean_.copy()
    model.predict([x + 100.0 for x in X])  # predicting does not refit the statistics
    np.testing.assert_array_equal(model.input_mean_, before)


def test_standardised_models_ignore_the_units_of_the_inputs():
    X, y = _ragged(16, seed=2)
    X_new, _ = _ragged(8, seed=5)

    def rescale(series):  # other offsets and units per feature
        return [np.array([10.0, 0.1]) * x + [4.0, -7.0] for x in series]

    first = CerebellarReservoirClassifier(alpha=1.0, **SMALL).fit(X, y)  # a well-posed ridge
    second = CerebellarReservoirClassifier(alpha=1.0, **SMALL).fit(rescale(X), y)
    scores = first.decision_function(X_new)
    np.testing.assert_allclose(second.decision_function(rescale(X_new)), scores, atol=1e-8)
    raw = CerebellarReservoirClassifier(alpha=1.0, standardize=False, **SMALL).fit(rescale(X), y)
    assert raw.input_mean_ is None and raw.input_scale_ is None
    assert not np.allclose(raw.decision_function(rescale(X_new)), scores, atol=1e-3)


def test_pooling_beats_the_final_state_on_a_series_mean_task():
    """Label = sign of the series' mean of noisy steps: the final state forgets most of the series."""
    rng = np.random.default_rng(3)
    X = rng.normal(size=(300, 60, 1)) + rng.choice([-0.15, 0.15], size=(300, 1, 1))
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    train, test = slice(0, 200), slice(200, None)
    accuracy = {
        pooling: CerebellarReservoirClassifier(
            pooling=pooling, alpha=1.0, lr=1.0, windows=1, differences=False, max_steps=None, random_state=0
        )
        .fit(X[train], y[train])
        .score(X[test], y[test])
        for pooling in [("last",), ("mean", "active")]
    }
    assert accuracy[("mean", "active")] > accuracy[("last",)] + 0.1


def test_regressor_standardises_per_step_inputs_too():
    rng = np.random.default_rng(4)
    u = rng.normal(size=(6, 20, 1))
    y = np.roll(u, 1, axis=1)
    first = CerebellarReservoirRegressor(alpha=1.0, **SMALL).fit(u, y)
    second = CerebellarReservoirRegressor(alpha=1.0, **SMALL).fit(50.0 + 20.0 * u, y)
    np.testing.assert_allclose(second.predict(50.0 + 20.0 * u), first.predict(u), atol=1e-8)


def test_grid_search_and_clone_over_the_pooling():
    from sklearn.base import clone
    from sklearn.model_selection import GridSearchCV

    X, y = _ragged(24, seed=6)
    model = CerebellarReservoirClassifier(pooling=["mean"], **SMALL)
    assert clone(model).get_params()["pooling"] == ["mean"]
    grid = {"pooling": [("last",), ("mean", "active")]}
    search = GridSearchCV(CerebellarReservoirClassifier(**SMALL), grid, cv=2).fit(X, y)
    assert len(search.cv_results_["params"]) == 2 and search.best_params_["pooling"] in grid["pooling"]
    assert search.best_estimator_.pooling_ == tuple(search.best_params_["pooling"])
