"""The features of issue 23: leave-one-out ridge penalty, window pooling, step sampling, input
differences, several leak rates, reservoir states beside the granule code, many classes, ragged series."""

import inspect

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.utils.estimator_checks import parametrize_with_checks

from cbreservoir.estimators import CerebellarReservoirClassifier, CerebellarReservoirRegressor
from cbreservoir.estimators._pooling import pool_codes, sampled_steps, window_bounds
from cbreservoir.nodes import Ridge
from cbreservoir.numerics.ridge_loo import check_alphas, loo_errors, select_alpha
from tests.estimators.test_checks import expected_failed_checks

SMALL = dict(units=20, n_granule=30, random_state=0, auto=False)  # the features as set, not chosen
ALL_ON = dict(
    lr=(1.0, 0.2),
    bidirectional=True,
    alpha=(0.1, 10.0),
    windows=3,
    differences=True,
    state_features=True,
    max_steps=6,
)


def _brute_force_loo(rows: np.ndarray, targets: np.ndarray, alpha: float) -> float:
    """Mean squared error of refitting the Ridge node without each row in turn."""
    errors = []
    for i in range(len(rows)):
        keep = np.arange(len(rows)) != i
        ridge = Ridge(ridge=alpha).fit(rows[keep], targets[keep])
        errors.append((ridge.run(rows[i : i + 1]) - targets[i]) ** 2)
    return float(np.mean(errors))


@pytest.mark.parametrize("shape", [(12, 30), (40, 5)])  # fewer rows than columns, and more
def test_leave_one_out_errors_equal_refitting_without_each_row(shape):
    rng = np.random.default_rng(0)
    rows = rng.normal(size=shape)
    targets = rng.normal(size=(shape[0], 3))
    alphas = [0.01, 1.0, 100.0]
    expected = [_brute_force_loo(rows, targets, a) for a in alphas]
    np.testing.assert_allclose(loo_errors(rows, targets, alphas), expected, rtol=1e-8)


def test_select_alpha_takes_the_smallest_loo_error_and_breaks_ties_towards_more_penalty():
    rng = np.random.default_rng(1)
    rows = rng.normal(size=(30, 8))
    targets = rows @ rng.normal(size=(8, 2)) + 0.1 * rng.normal(size=(30, 2))
    alphas = [1e-3, 1e-1, 10.0, 1e3]
    errors = loo_errors(rows, targets, alphas)
    assert select_alpha(rows, targets, alphas) == alphas[int(np.argmin(errors))]
    constant = np.ones((30, 1))  # every penalty predicts the mean: all tie
    assert select_alpha(rows, constant, alphas) == 1e3


def test_fit_picks_alpha_from_the_tuple_and_keeps_a_single_value():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(30, 15, 2))
    y = (X[:, :, 0].mean(axis=1) > 0).astype(int)
    alphas = (1e-2, 1.0, 1e2, 1e4)
    model = CerebellarReservoirClassifier(alpha=alphas, **SMALL).fit(X, y)
    rows = model._readout_inputs(model._validated_input(X), training=True)
    rows = (rows - model.feature_mean_) / model.feature_scale_
    assert model.alpha_ == select_alpha(rows, np.eye(2)[y], alphas)
    assert CerebellarReservoirClassifier(alpha=0.5, **SMALL).fit(X, y).alpha_ == 0.5


@pytest.mark.parametrize(
    ("alpha", "error"),
    [((), TypeError), ("auto", TypeError), ((1.0, -1.0), ValueError), ((0.0, 1.0), ValueError),
     (float("nan"), ValueError), ((1.0, True), TypeError)],
)
def test_bad_alphas_name_the_ridge_penalty(alpha, error):
    with pytest.raises(error, match=r"alpha \(the ridge penalty\).*got"):
        check_alphas(alpha, "Owner")


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 50), st.integers(1, 9))
def test_windows_are_consecutive_non_empty_and_cover_the_series(n_steps, windows):
    bounds = window_bounds(n_steps, windows)
    assert len(bounds) == windows
    assert all(0 <= a < b <= n_steps for a, b in bounds)
    if n_steps >= windows:  # a partition of the steps
        assert bounds[0][0] == 0 and bounds[-1][1] == n_steps
        assert all(b == a2 for (_, b), (a2, _) in zip(bounds[:-1], bounds[1:], strict=True))


def test_window_pooling_by_hand():
    code = np.array([[1.0, 0.0], [3.0, 0.0], [0.0, 2.0], [0.0, 4.0]])  # 4 steps, 2 cells
    features = pool_codes([code], ("mean",), windows=2)
    np.testing.assert_allclose(features, [[1.0, 1.5, 2.0, 0.0, 0.0, 3.0]])  # whole, first half, second
    np.testing.assert_array_equal(pool_codes([code], ("mean",), windows=1), [[1.0, 1.5]])


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 500), st.integers(1, 60))
def test_sampled_steps_are_evenly_spaced_and_end_at_the_last_step(n_steps, max_steps):
    steps = sampled_steps(n_steps, max_steps)
    assert len(steps) == min(n_steps, max_steps) and steps[-1] == n_steps - 1
    assert steps[0] == (0 if max_steps > 1 else n_steps - 1)
    assert np.all(np.diff(steps) >= 1)
    np.testing.assert_array_equal(sampled_steps(n_steps, None), np.arange(n_steps))


def test_max_steps_at_least_the_length_reads_every_step():
    rng = np.random.default_rng(3)
    X, y = rng.normal(size=(20, 12, 1)), np.repeat([0, 1], 10)
    every = CerebellarReservoirClassifier(max_steps=None, **SMALL).fit(X, y)
    same = CerebellarReservoirClassifier(max_steps=12, **SMALL).fit(X, y)
    np.testing.assert_allclose(every.decision_function(X), same.decision_function(X), atol=1e-12)
    fewer = CerebellarReservoirClassifier(max_steps=4, **SMALL).fit(X, y)
    assert not np.allclose(every.decision_function(X), fewer.decision_function(X))


def test_differences_feed_the_reservoir_each_series_and_its_first_differences():
    rng = np.random.default_rng(4)
    X = [rng.normal(size=(n, 2)) for n in (5, 9, 7)]
    model = CerebellarReservoirClassifier(differences=True, **SMALL).fit(X, [0, 1, 0])
    assert model.reservoir_.input_dim == 4 and model.input_mean_.shape == (4,)
    inputs = model._model_inputs(model._validated_input(X))
    for x, seen in zip(X, inputs, strict=True):
        raw = seen * model.input_scale_ + model.input_mean_
        np.testing.assert_allclose(raw[:, :2], x, atol=1e-12)
        np.testing.assert_allclose(raw[0, 2:], 0.0, atol=1e-12)
        np.testing.assert_allclose(raw[1:, 2:], np.diff(x, axis=0), atol=1e-12)


def test_a_tuple_of_leak_rates_gives_equal_groups_of_units():
    X, y = np.random.default_rng(5).normal(size=(6, 8, 1)), [0, 1] * 3
    model = CerebellarReservoirClassifier(units=10, lr=(1.0, 0.3, 0.1), n_granule=20, random_state=0)
    leaks = model.fit(X, y).reservoir_.lr
    np.testing.assert_array_equal(leaks, [1.0] * 4 + [0.3] * 3 + [0.1] * 3)
    with pytest.raises(ValueError, match=r"tuple of 1 to units=2 leak rates; got \(1.0, 0.5, 0.2\)"):
        CerebellarReservoirClassifier(units=2, lr=(1.0, 0.5, 0.2), n_granule=5).fit(X, y)


@pytest.mark.parametrize(
    ("params", "error", "match"),
    [
        ({"windows": 0}, ValueError, "windows must be a positive int"),
        ({"windows": 2.0}, TypeError, "windows must be a positive int"),
        ({"max_steps": 0}, ValueError, "max_steps must be a positive int"),
        ({"differences": "yes"}, TypeError, "differences must be True or False; got 'yes'"),
        ({"state_features": 1}, TypeError, "state_features must be True or False"),
    ],
)
def test_bad_feature_parameters_are_refused_before_any_work(params, error, match):
    X, y = np.zeros((4, 5, 1)), [0, 1, 0, 1]
    with pytest.raises(error, match=match):
        CerebellarReservoirClassifier(**params, **SMALL).fit(X, y)


@pytest.mark.parametrize("windows", [1, 3])
def test_readout_inputs_hold_granule_and_state_blocks_per_pooling_and_window(windows):
    X, y = np.random.default_rng(6).normal(size=(8, 10, 1)), [0, 1] * 4
    model = CerebellarReservoirClassifier(windows=windows, state_features=True, **SMALL).fit(X, y)
    n_parts = 1 + windows if windows > 1 else 1
    assert model.feature_mean_.shape == ((30 + 20) * 2 * n_parts,)
    rows = model._readout_inputs(model._validated_input(X), training=True)
    states = model._reservoir_states(model._validated_input(X), reverse=False)
    code = model._granule_code(states)
    np.testing.assert_allclose(rows[:, : 30 * 2 * n_parts], pool_codes(code, ("mean", "active"), windows))
    np.testing.assert_allclose(rows[:, 30 * 2 * n_parts :], pool_codes(states, ("mean", "active"), windows))


def test_many_classes():
    rng = np.random.default_rng(7)
    n_classes = 52
    templates = rng.normal(size=(n_classes, 16, 2))
    labels = np.repeat(np.arange(n_classes), 3)

    def noisy():
        return templates[labels] + 0.1 * rng.normal(size=(len(labels), 16, 2))

    model = CerebellarReservoirClassifier(units=40, n_granule=100, alpha=(1e-2, 1.0, 1e2), random_state=0)
    model.fit(noisy(), labels)
    assert len(model.classes_) == n_classes
    assert model.predict_proba(noisy()[:5]).shape == (5, n_classes)
    assert model.score(noisy(), labels) > 0.9  # chance is 1/52


def test_unequal_lengths_predict_each_series_as_if_alone():
    rng = np.random.default_rng(8)
    X = [rng.normal(size=(n, 1)) for n in (2, 7, 30, 41, 3, 16)]
    y = [0, 1, 2, 0, 1, 2]
    model = CerebellarReservoirClassifier(windows=4, max_steps=10, **SMALL, alpha=(0.1, 10.0)).fit(X, y)
    together = model.decision_function(X)
    alone = np.vstack([model.decision_function([x]) for x in X])
    np.testing.assert_allclose(together, alone, atol=1e-10)


def test_every_node_argument_is_passed_explicitly(monkeypatch):
    """A node default changed elsewhere cannot change the estimators silently."""
    import cbreservoir.nodes as nodes

    seen = {}

    def recording(node_class):
        class Recording(node_class):
            def __init__(self, *args, **kwargs):
                seen[node_class.__name__] = (len(args), set(kwargs))
                super().__init__(*args, **kwargs)

        return Recording

    for name in ("Reservoir", "Cerebellum", "Ridge"):
        monkeypatch.setattr(nodes, name, recording(getattr(nodes, name)))
    X, y = np.random.default_rng(9).normal(size=(6, 5, 1)), [0, 1] * 3
    CerebellarReservoirClassifier(**SMALL).fit(X, y)
    for name, (n_args, keywords) in seen.items():
        parameters = list(inspect.signature(getattr(nodes, name).__mro__[1].__init__).parameters)[1:]
        assert set(parameters[n_args:]) == keywords, name


@parametrize_with_checks(
    [CerebellarReservoirClassifier(units=20, n_granule=40, **ALL_ON),
     CerebellarReservoirRegressor(units=20, n_granule=40, **ALL_ON)],
    expected_failed_checks=expected_failed_checks,
    xfail_strict=True,
)
def test_sklearn_checks_with_every_feature_on(estimator, check):
    check(estimator)


def test_the_backward_pass_reads_each_series_reversed():
    rng = np.random.default_rng(10)
    X = [rng.normal(size=(n, 1)) for n in (6, 11, 8)]
    model = CerebellarReservoirClassifier(
        bidirectional=True, max_steps=5, windows=2, differences=False, **SMALL
    ).fit(X, [0, 1, 0])
    rows = model._readout_inputs(model._validated_input(X), training=True)
    model.bidirectional = False  # the same nodes, one pass: forward blocks of X and of X reversed
    forward = model._readout_inputs(model._validated_input(X), training=True)
    backward = model._readout_inputs(model._validated_input([x[::-1] for x in X]), training=True)
    assert rows.shape == (3, 2 * 2 * 3 * 30)  # 2 passes x 2 poolings x (series + 2 windows) x 30 cells
    np.testing.assert_allclose(rows[:, 180:], backward, atol=1e-12)
    np.testing.assert_allclose(rows[:, :180], forward, atol=1e-12)


def test_backward_pass_per_step_is_aligned_with_time():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(1, 9, 1))
    model = CerebellarReservoirRegressor(bidirectional=True, **SMALL).fit(x, x)
    rows = model._readout_inputs(model._validated_input(x), training=False)
    backward = model._validated_input(x[:, ::-1].copy())
    code = model._granule_code(model._reservoir_states(backward, reverse=False))
    np.testing.assert_allclose(rows[:, 30:], code[0][::-1], atol=1e-12)


def test_the_default_classifier_saves_and_loads_with_the_same_predictions(tmp_path):
    from cbreservoir.io import load, save

    rng = np.random.default_rng(12)
    X = [rng.normal(size=(n, 2)) for n in (30, 250, 12, 90)]
    model = CerebellarReservoirClassifier(units=20, n_granule=30, alpha=(0.1, 10.0), random_state=0)
    model.fit(X, [0, 1, 0, 1])
    restored = load(save(model, tmp_path / "model"))
    assert restored.get_params() == model.get_params() and restored.alpha_ == model.alpha_
    np.testing.assert_array_equal(restored.decision_function(X), model.decision_function(X))
