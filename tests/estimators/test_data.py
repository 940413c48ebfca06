"""Input layouts and target layouts of the estimators (cbreservoir.estimators._data)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.base import BaseEstimator

from cbreservoir.estimators._data import format_output, validate_series, validate_xy


class _Holder(BaseEstimator):
    """Bare estimator that receives n_features_in_ and layout_."""

    def __init__(self, layout="auto"):
        self.layout = layout


def test_three_layouts_become_lists_of_series():
    rng = np.random.default_rng(0)
    X3 = rng.normal(size=(4, 6, 2))
    batch = validate_series(_Holder(), X3, reset=True)
    assert batch.layout == "batch" and batch.lengths == [6] * 4
    np.testing.assert_array_equal(batch.as_list()[2], X3[2])

    ragged = [rng.normal(size=(n, 2)) for n in (3, 5)]
    batch = validate_series(_Holder(), ragged, reset=True)
    assert batch.layout == "ragged" and batch.lengths == [3, 5]

    rows = validate_series(_Holder(), X3[:, :, 0].tolist(), reset=True)  # list of rows = univariate series
    assert rows.layout == "batch" and rows.lengths == [6] * 4 and rows.n_features == 1


def test_feature_count_is_recorded_and_checked():
    est = _Holder()
    validate_series(est, np.zeros((2, 6, 5)), reset=True)
    assert est.n_features_in_ == 5
    with pytest.raises(ValueError, match="X has 4 features, but _Holder is expecting 5"):
        validate_series(est, np.zeros((2, 6, 4)), reset=False)
    with pytest.raises(ValueError, match="same number of features"):
        validate_series(est, [np.zeros((6, 5)), np.zeros((7, 4))], reset=True)


@pytest.mark.parametrize(
    ("X", "message"),
    [
        (np.full((2, 3, 1), np.nan), "must be finite"),
        (np.zeros((2, 0, 1)), "at least one time step"),
        ([np.zeros((3, 1)), np.array([[np.inf], [0.0]])], r"X\[1\] must be finite"),
        (np.full((4, 2), np.nan), "Input X contains NaN"),
    ],
)
def test_bad_input_raises_value_error(X, message):
    with pytest.raises(ValueError, match=message):
        validate_series(_Holder(), X, reset=True)


def test_targets_per_series_and_per_step_for_a_batch():
    X = np.zeros((3, 4, 1))
    _, labels = validate_xy(_Holder(), X, ["a", "b", "a"], classification=True, reset=True)
    assert labels.per_series and labels.values.shape == (3, 1) and labels.squeeze
    _, step_labels = validate_xy(_Holder(), X, np.zeros((3, 4), int), classification=True, reset=True)
    assert not step_labels.per_series and step_labels.values.shape == (12, 1)
    _, values = validate_xy(_Holder(), X, np.zeros((3, 2)), classification=False, reset=True)
    assert values.per_series and values.values.shape == (3, 2) and not values.squeeze
    _, step_values = validate_xy(_Holder(), X, np.zeros((3, 4, 2)), classification=False, reset=True)
    assert not step_values.per_series and step_values.values.shape == (12, 2)


def test_targets_for_a_list_and_a_univariate_collection():
    X = [np.zeros((2, 1)), np.zeros((3, 1))]
    _, per_step = validate_xy(
        _Holder(), X, [np.arange(2.0), np.arange(3.0)], classification=False, reset=True
    )
    np.testing.assert_array_equal(per_step.values[:, 0], [0, 1, 0, 1, 2])
    _, per_series = validate_xy(_Holder(), X, [0.5, 1.5], classification=False, reset=True)
    assert per_series.per_series and not per_step.per_series
    batch, rows = validate_xy(_Holder(), np.zeros((5, 2)), np.arange(5), classification=True, reset=True)
    assert batch.lengths == [2] * 5 and rows.per_series and rows.values.shape == (5, 1)


@pytest.mark.parametrize(
    ("X", "y", "message"),
    [
        (np.zeros((3, 4, 1)), [0, 1], "y has 2 targets but X has 3 series"),
        (
            [np.zeros((2, 1)), np.zeros((3, 1))],
            [np.zeros(2), np.zeros(2)],
            r"y\[1\] has 2 steps but X\[1\] has 3",
        ),
        (np.zeros((3, 4, 1)), np.zeros((3, 4, 2, 1)), "matches neither"),
        (np.zeros((5, 1)), np.arange(4), "y has 4 targets but X has 5 series"),
        (np.zeros((3, 4, 1)), [0.5, 1.5, 2.5], "Unknown label type"),
    ],
)
def test_mismatched_targets_raise(X, y, message):
    with pytest.raises(ValueError, match=message):
        validate_xy(_Holder(), X, y, classification=True, reset=True)


def test_format_output_restores_each_layout():
    rows = np.arange(5.0)[:, None]
    ragged = validate_series(_Holder(), [np.zeros((2, 1)), np.zeros((3, 1))], reset=True)
    pieces = format_output(rows, ragged, per_series=False, squeeze=True)
    assert [p.tolist() for p in pieces] == [[0.0, 1.0], [2.0, 3.0, 4.0]]
    batch = validate_series(_Holder(), np.zeros((2, 3, 1)), reset=True)
    assert format_output(np.zeros((6, 2)), batch, per_series=False, squeeze=True).shape == (2, 3, 2)
    assert format_output(np.zeros((2, 1)), batch, per_series=True, squeeze=True).shape == (2,)


@settings(max_examples=25, deadline=None)
@given(
    layout=st.sampled_from(["univariate", "batch", "ragged"]),
    lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4),
    n_outputs=st.integers(1, 3),
    scalar=st.booleans(),
)
def test_per_step_targets_round_trip_through_format_output(layout, lengths, n_outputs, scalar):
    rng = np.random.default_rng(len(lengths))
    if layout != "ragged":
        lengths = [lengths[0]] * len(lengths)
    shape = () if scalar else (n_outputs,)
    xs = [rng.normal(size=(n, 2)) for n in lengths]
    ys = [rng.normal(size=(n, *shape)) for n in lengths]
    if layout != "ragged":
        X, y = np.stack(xs), np.stack(ys)
        if layout == "univariate":
            X = X[:, :, 0]  # (series, time)
        if scalar:
            y = y[..., None]  # per-step regression targets of a batch are (S, T, k)
    else:
        X, y = xs, ys
    batch, targets = validate_xy(_Holder(), X, y, classification=False, reset=True)
    assert not targets.per_series and targets.values.shape == (sum(lengths), 1 if scalar else n_outputs)
    restored = format_output(targets.values, batch, per_series=False, squeeze=targets.squeeze)
    if layout == "ragged":
        for got, expected in zip(restored, y, strict=True):
            np.testing.assert_array_equal(got, expected)
    else:
        np.testing.assert_array_equal(restored, y)
