"""Collections as scikit-learn, aeon and reservoirpy users hold them (issue 35): read right where the
shapes leave no doubt, taken with an explicit ``layout`` where they do not, refused otherwise."""

import numpy as np
import pytest
from sklearn.datasets import make_blobs

from cbreservoir.datasets import load_uea
from cbreservoir.estimators import (
    CBRNNClassifier,
    CBRNNRegressor,
    CerebellarReservoirClassifier,
    CerebellarReservoirRegressor,
)
from cbreservoir.nodes import Reservoir, Ridge

SMALL = dict(units=20, n_granule=40, random_state=0, n_jobs=1)
CLOSED_FORM = (CerebellarReservoirClassifier, CerebellarReservoirRegressor)
AMBIGUOUS = r"layout='channels_first' for aeon's \(series, channels, time\) layout"


@pytest.fixture(scope="module")
def gunpoint():
    """A subset of GunPoint as aeon and scikit-learn users hold it: 2-D (series, time), labels per row."""
    X, y = load_uea("GunPoint", "train")
    X_test, y_test = load_uea("GunPoint", "test")
    return np.stack(X[:24])[:, :, 0], y[:24], np.stack(X_test[:30])[:, :, 0], y_test[:30]


@pytest.fixture(scope="module")
def basic_motions():
    """A subset of BasicMotions in aeon's (series, channels, time) layout: (16, 6, 100)."""
    X, y = load_uea("BasicMotions", "train")
    return np.stack(X[::2]).transpose(0, 2, 1), y[::2]


def _targets(estimator_class, labels):
    """Labels for a classifier, their codes as floats for a regressor."""
    return (
        labels
        if estimator_class is CerebellarReservoirClassifier
        else np.unique(labels, return_inverse=True)[1] * 1.0
    )


@pytest.mark.parametrize("estimator_class", CLOSED_FORM)
def test_a_2d_array_with_a_label_per_row_is_a_univariate_collection(estimator_class, gunpoint):
    X, y, X_test, _ = gunpoint
    y = _targets(estimator_class, y)
    flat = estimator_class(**SMALL).fit(X, y)
    as_3d = estimator_class(**SMALL).fit(X[:, :, None], y)
    assert flat.n_features_in_ == 1 and flat.per_series_ and flat.layout_ == "channels_last"
    prediction = flat.predict(X_test)
    assert prediction.shape == (len(X_test),)
    np.testing.assert_array_equal(prediction, as_3d.predict(X_test[:, :, None]))
    # after a 2-D fit, aeon's univariate (n, 1, time) and (n, time, 1) are read the same way
    np.testing.assert_array_equal(prediction, flat.predict(X_test[:, None, :]))
    np.testing.assert_array_equal(prediction, flat.predict(X_test[:, :, None]))


def test_gunpoint_as_a_2d_array_is_classified_well(gunpoint):
    X, y, X_test, y_test = gunpoint
    model = CerebellarReservoirClassifier(random_state=0, n_jobs=1).fit(X, y)
    assert model.score(X_test, y_test) >= 0.9  # read as one series of 24 steps, chance level


@pytest.mark.parametrize("estimator_class", CLOSED_FORM)
def test_aeon_univariate_n_1_time_is_read_right(estimator_class, gunpoint):
    X, y, X_test, _ = gunpoint
    y = _targets(estimator_class, y)
    aeon = estimator_class(**SMALL).fit(X[:, None, :], y)
    assert aeon.layout_ == "channels_first" and aeon.n_features_in_ == 1
    np.testing.assert_array_equal(
        aeon.predict(X_test[:, None, :]), estimator_class(**SMALL).fit(X, y).predict(X_test)
    )


@pytest.mark.parametrize("estimator_class", CLOSED_FORM)
def test_aeon_multivariate_is_refused_with_the_fix_then_read_with_layout(estimator_class, basic_motions):
    X, y = basic_motions
    y = _targets(estimator_class, y)
    with pytest.raises(ValueError, match=AMBIGUOUS):
        estimator_class(**SMALL).fit(X, y)
    aeon = estimator_class(layout="channels_first", **SMALL).fit(X, y)
    ours = estimator_class(layout="channels_last", **SMALL).fit(X.transpose(0, 2, 1), y)
    assert aeon.n_features_in_ == 6 and aeon.layout_ == "channels_first"
    np.testing.assert_array_equal(aeon.predict(X), ours.predict(X.transpose(0, 2, 1)))
    # with layout="auto", the feature count seen in fit decides the order of the axes later
    auto = estimator_class(**SMALL).fit(X[:, :, :7].transpose(0, 2, 1), y)  # 7 steps > 6 channels: no doubt
    np.testing.assert_array_equal(auto.predict(X[:, :, :7]), auto.predict(X[:, :, :7].transpose(0, 2, 1)))


def test_aeon_lists_of_unequal_length_are_read_right(basic_motions):
    X, y = basic_motions
    ragged = [x[:, : 60 + 2 * i] for i, x in enumerate(X)]  # (channels, time_i), as aeon holds them
    aeon = CerebellarReservoirClassifier(**SMALL).fit(ragged, y)
    ours = CerebellarReservoirClassifier(**SMALL).fit([x.T for x in ragged], y)
    assert aeon.layout_ == "channels_first"
    np.testing.assert_array_equal(
        aeon.decision_function(ragged), ours.decision_function([x.T for x in ragged])
    )


def test_targets_per_step_fix_the_order_of_the_axes():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 4, 9))  # 4 steps of 9 features: with per-step labels, no doubt
    labels = rng.integers(0, 2, size=(6, 4))
    model = CerebellarReservoirClassifier(**SMALL).fit(X, labels)
    assert model.layout_ == "channels_last" and model.predict(X).shape == (6, 4)
    univariate = CerebellarReservoirClassifier(**SMALL).fit(X[:, 0], rng.integers(0, 2, size=(6, 9)))
    assert univariate.predict(X[:, 0]).shape == (6, 9)  # a 2-D X with labels per step: (series, time)


@pytest.mark.parametrize(
    "X",
    [np.zeros((5, 3, 7)), np.zeros((5, 4, 4)), [np.zeros((3, 7)), np.zeros((3, 7))]],
    ids=["fewer-steps-than-features", "square", "equal-length-list"],
)
def test_shapes_in_doubt_are_refused_with_the_fix(X):
    with pytest.raises(ValueError, match=AMBIGUOUS):
        CerebellarReservoirClassifier(**SMALL).fit(X, [0, 1, 0, 1, 0][: len(X)])


def test_a_2d_array_of_one_series_needs_layout_one_series():
    rng = np.random.default_rng(1)
    u = rng.normal(size=(200, 2))
    target = np.roll(u[:, 0], 1)
    one = CerebellarReservoirRegressor(layout="one_series", **SMALL).fit(u, target)
    assert one.n_features_in_ == 2 and not one.per_series_ and one.predict(u).shape == (200,)
    with pytest.raises(ValueError, match="y has 200 targets but X has 200 series|expected one target"):
        CerebellarReservoirRegressor(**SMALL).fit(u, target[:, None, None])


def test_an_unknown_layout_is_refused_before_any_work():
    with pytest.raises(ValueError, match=r"layout must be one of \['auto', 'channels_last'"):
        CerebellarReservoirClassifier(layout="aeon", **SMALL).fit(np.zeros((4, 5)), [0, 1, 0, 1])


def test_a_2d_x_of_tabular_blobs_is_classified_as_univariate_series():
    """The accuracy half of scikit-learn's check_classifiers_train (tests/estimators/test_checks.py)."""
    X, y = make_blobs(n_samples=60, centers=3, n_features=6, random_state=0, cluster_std=0.5)
    model = CerebellarReservoirClassifier(**SMALL).fit(X, y)
    assert model.score(X, y) > 0.83


@pytest.mark.parametrize("estimator_class", (CBRNNClassifier, CBRNNRegressor))
def test_the_cbrnn_estimators_read_the_same_layouts(estimator_class, basic_motions):
    X, y = basic_motions
    y = y if estimator_class is CBRNNClassifier else np.unique(y, return_inverse=True)[1] * 1.0
    settings = dict(units=8, n_granule=8, n_purkinje=4, epochs=1, random_state=0, n_jobs=1)
    with pytest.raises(ValueError, match=AMBIGUOUS):
        estimator_class(**settings).fit(X, y)
    aeon = estimator_class(layout="channels_first", **settings).fit(X, y)
    ours = estimator_class(**settings).fit(X.transpose(0, 2, 1), y)
    np.testing.assert_array_equal(aeon.predict(X), ours.predict(X.transpose(0, 2, 1)))
    flat = estimator_class(**settings).fit(X[:, 0], y)  # the first channel, as a 2-D univariate collection
    assert flat.n_features_in_ == 1 and flat.predict(X[:, 0]).shape == (len(X),)


def test_model_fit_reads_a_2d_array_with_one_target_per_row_as_a_univariate_collection(gunpoint):
    X, y, X_test, _ = gunpoint
    codes = np.unique(y, return_inverse=True)[1] * 1.0
    flat = (Reservoir(30, seed=0) >> Ridge(1e-3)).fit(X, codes)
    as_3d = (Reservoir(30, seed=0) >> Ridge(1e-3)).fit(X[:, :, None], codes[:, None])
    assert flat.nodes[0].input_dim == 1
    np.testing.assert_allclose(flat.run(X_test[:, :, None]), as_3d.run(X_test[:, :, None]), atol=1e-12)


def test_model_fit_refuses_aeon_layout_in_doubt_and_takes_layout(basic_motions):
    X, y = basic_motions
    codes = np.unique(y, return_inverse=True)[1] * 1.0
    with pytest.raises(ValueError, match=AMBIGUOUS.replace("X", "x")):
        (Reservoir(30, seed=0) >> Ridge(1e-3)).fit(X, codes)
    aeon = (Reservoir(30, seed=0) >> Ridge(1e-3)).fit(X, codes, layout="channels_first")
    ours = (Reservoir(30, seed=0) >> Ridge(1e-3)).fit(X.transpose(0, 2, 1), codes[:, None])
    np.testing.assert_allclose(aeon.run(X.transpose(0, 2, 1)), ours.run(X.transpose(0, 2, 1)), atol=1e-12)
    with pytest.raises(ValueError, match="layout must be one of"):
        (Reservoir(30, seed=0) >> Ridge(1e-3)).fit(X, codes, layout="ncl")
