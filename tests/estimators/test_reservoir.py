"""CerebellarReservoirClassifier / Regressor: learning, layouts, sklearn tooling, errors."""

import pickle

import joblib
import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError
from sklearn.metrics import r2_score
from sklearn.model_selection import GridSearchCV, TimeSeriesSplit, cross_val_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from cbreservoir.estimators import CerebellarReservoirClassifier, CerebellarReservoirRegressor
from cbreservoir.tasks.nonlinear_memory import nonlinear_memory_task

SMALL = dict(units=30, n_granule=80, random_state=0)


@pytest.fixture(scope="module")
def memory_data():
    """Per-step XNOR targets y(t) = u(t-1) u(t-3) of ±1 inputs; train and test series."""
    u, y = nonlinear_memory_task(60, 30, delays=(1, 3), seed=0)
    u_test, y_test = nonlinear_memory_task(20, 30, delays=(1, 3), seed=1)
    return u, y, u_test, y_test


def test_regressor_learns_the_nonlinear_memory_task(memory_data):
    u, y, u_test, y_test = memory_data
    model = CerebellarReservoirRegressor(warmup=5, **SMALL).fit(u, y)
    assert not model.per_series_ and model.n_outputs_ == 1
    with pytest.warns(FutureWarning, match=r"per_step_ is deprecated; use .*per_series_"):
        assert model.per_step_  # the deprecated alias, negated
    predicted = model.predict(u_test)
    assert predicted.shape == y_test.shape
    assert r2_score(y_test[:, 5:].ravel(), predicted[:, 5:].ravel()) > 0.9


def test_classifier_reads_the_final_step_for_labels_per_series(memory_data):
    u, y, u_test, y_test = memory_data
    model = CerebellarReservoirClassifier(
        pooling=("last",), windows=1, differences=False, lr=1.0, **SMALL
    ).fit(u, y[:, -1, 0].astype(int))
    assert model.per_series_
    np.testing.assert_array_equal(model.classes_, [-1, 1])
    assert model.predict(u_test).shape == (20,)
    assert model.predict_proba(u_test).shape == (20, 2)
    np.testing.assert_allclose(model.predict_proba(u_test).sum(axis=1), 1.0)
    assert model.score(u_test, y_test[:, -1, 0].astype(int)) > 0.9


def test_string_labels_per_step(memory_data):
    u, y, _, _ = memory_data
    labels = np.where(y[..., 0] > 0, "same", "differ")
    model = CerebellarReservoirClassifier(**SMALL).fit(u, labels)
    predicted = model.predict(u[:3])
    assert predicted.shape == (3, 30) and set(np.unique(predicted)) <= {"same", "differ"}


def test_random_state_fixes_the_model(memory_data):
    u, y, u_test, _ = memory_data
    first, again = (CerebellarReservoirRegressor(**SMALL).fit(u, y) for _ in range(2))
    other = CerebellarReservoirRegressor(**{**SMALL, "random_state": 1}).fit(u, y)
    np.testing.assert_array_equal(first.predict(u_test), again.predict(u_test))
    assert not np.allclose(first.predict(u_test), other.predict(u_test))


def test_every_series_starts_from_a_fresh_state(memory_data):
    u, y, u_test, _ = memory_data
    model = CerebellarReservoirRegressor(**SMALL).fit(u, y)
    ragged = [u_test[0, :12], u_test[1], u_test[2, :7]]
    together = model.predict(ragged)
    alone = [model.predict(series[None])[0] for series in ragged]
    assert [p.shape for p in together] == [(12, 1), (30, 1), (7, 1)]
    for joint, single in zip(together, alone, strict=True):
        np.testing.assert_allclose(joint, single, atol=1e-12)
    np.testing.assert_allclose(model.predict(u_test)[1], together[1], atol=1e-12)


def test_grid_search_over_alpha_and_units(memory_data):
    u, y, u_test, y_test = memory_data
    labels = y[:, -1, 0].astype(int)
    grid = {"alpha": [1e-6, 1e3], "units": [10, 30]}
    estimator = CerebellarReservoirClassifier(
        n_granule=80, pooling=("last",), windows=1, differences=False, lr=1.0, random_state=0
    )
    search = GridSearchCV(estimator, grid, cv=3)
    search.fit(u, labels)
    assert len(search.cv_results_["params"]) == 4
    assert search.best_params_["alpha"] == 1e-6  # a huge penalty flattens the readout
    assert search.score(u_test, y_test[:, -1, 0].astype(int)) > 0.9


def test_pipeline_on_one_long_series_with_time_series_split():
    rng = np.random.default_rng(0)
    u = rng.choice([-1.0, 1.0], size=(1200, 1))
    target = np.roll(u[:, 0], 1) * np.roll(u[:, 0], 2)  # rows are time steps of ONE series
    features = np.hstack([3.0 * u + 5.0, rng.normal(size=(1200, 1))])  # badly scaled on purpose
    # the pre-issue-18 input settings: a sparse, strong input drive (the defaults suit classification)
    regressor = CerebellarReservoirRegressor(
        input_scaling=1.0, input_connectivity=0.1, alpha=1e-6, layout="one_series", **SMALL
    )
    pipeline = make_pipeline(StandardScaler(), regressor)
    scores = cross_val_score(pipeline, features, target, cv=TimeSeriesSplit(n_splits=3))
    assert scores.min() > 0.8, scores


def test_pickle_and_joblib_round_trip(memory_data, tmp_path):
    u, y, u_test, _ = memory_data
    model = CerebellarReservoirClassifier(**SMALL).fit(u, y[:, -1, 0].astype(int))
    restored = pickle.loads(pickle.dumps(model))
    joblib.dump(model, tmp_path / "model.joblib")
    from_disk = joblib.load(tmp_path / "model.joblib")
    np.testing.assert_array_equal(restored.predict_proba(u_test), model.predict_proba(u_test))
    np.testing.assert_array_equal(from_disk.predict(u_test), model.predict(u_test))


def test_clone_is_unfitted_and_keeps_parameters(memory_data):
    u, y, _, _ = memory_data
    model = CerebellarReservoirRegressor(units=12, alpha=0.5, n_jobs=1).fit(u, y)
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    assert not hasattr(copy, "readout_")
    with pytest.raises(NotFittedError):
        copy.predict(u)


def test_n_jobs_only_changes_threads(memory_data):
    u, y, u_test, _ = memory_data
    one = CerebellarReservoirRegressor(n_jobs=1, **SMALL).fit(u, y).predict(u_test)
    two = CerebellarReservoirRegressor(n_jobs=2, **SMALL).fit(u, y).predict(u_test)
    np.testing.assert_allclose(one, two, atol=1e-10)
    with pytest.raises(ValueError, match=r"n_jobs must be None, -1 or an int in \[1, "):
        CerebellarReservoirRegressor(n_jobs=0, **SMALL).fit(u, y)


@pytest.mark.parametrize(
    ("make_call", "message"),
    [
        (
            lambda m, u, y: m.predict(u[..., [0, 0]]),
            "X has 2 features, but CerebellarReservoirRegressor is expecting 1",
        ),
        (lambda m, u, y: m.score(u, y[:, -1]), "fitted with targets per step; score got targets per series"),
        (lambda m, u, y: clone(m).set_params(warmup=30).fit(u, y), "warmup must be >= 0 and smaller"),
        (
            lambda m, u, y: clone(m).fit(u, y[:-1]),
            "Y holds 59 series but X holds 60|y has targets for 59 series",
        ),
        (lambda m, u, y: clone(m).fit(u, None), "requires y to be passed"),
    ],
)
def test_clear_value_errors(memory_data, make_call, message):
    u, y, _, _ = memory_data
    model = CerebellarReservoirRegressor(**SMALL).fit(u, y)
    with pytest.raises(ValueError, match=message):
        make_call(model, u, y)


def test_one_class_is_refused():
    with pytest.raises(ValueError, match="at least 2 classes"):
        CerebellarReservoirClassifier(**SMALL).fit(np.zeros((4, 5, 1)), np.ones(4, int))
