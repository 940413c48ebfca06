"""Forecast scores on cases with known values: NRMSE and valid prediction time."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cbreservoir.analysis.forecasting import error_curve, nrmse, valid_prediction_time


@pytest.fixture
def truth():
    t = np.linspace(0, 30, 600)
    return np.column_stack([np.sin(t), 5.0 * np.cos(0.7 * t) + 3.0])


def test_perfect_forecast_scores_zero_and_each_features_mean_scores_one(truth):
    assert nrmse(truth, truth) == 0.0
    np.testing.assert_allclose(nrmse(truth, np.broadcast_to(truth.mean(0), truth.shape)), 1.0, rtol=1e-12)
    # per-feature normalisation: the mean of one feature only, the other perfect -> sqrt(1/2)
    half = truth.copy()
    half[:, 1] = truth[:, 1].mean()
    np.testing.assert_allclose(nrmse(truth, half), np.sqrt(0.5), rtol=1e-12)


@given(offset=st.floats(0.01, 10.0), scale=st.floats(0.1, 10.0))
@settings(max_examples=25, deadline=None)
def test_constant_offset_scores_offset_over_scale(offset, scale):
    y = np.random.default_rng(0).normal(size=(50, 3))
    np.testing.assert_allclose(nrmse(y, y + offset, scale=scale), offset / scale, rtol=1e-12)
    np.testing.assert_allclose(error_curve(y, y + offset, scale=scale), offset / scale, rtol=1e-12)


def test_one_dimensional_input_reads_as_one_feature(truth):
    assert nrmse(truth[:, 0], truth[:, 0] * 0.5) == nrmse(truth[:, :1], truth[:, :1] * 0.5)


@pytest.mark.parametrize("k", [0, 1, 137, 599])
def test_vpt_of_a_forecast_that_diverges_at_a_known_step(truth, k):
    forecast = truth.copy()
    forecast[k:] += 100.0
    assert valid_prediction_time(truth, forecast) == k
    assert valid_prediction_time(truth, forecast, dt=0.02, lyapunov_exponent=0.9056) == pytest.approx(
        k * 0.02 * 0.9056, rel=1e-12
    )


def test_vpt_threshold_and_a_forecast_that_never_diverges(truth):
    assert valid_prediction_time(truth, truth, dt=0.5) == 600 * 0.5
    ramp = truth + np.linspace(0, 1, 600)[:, None]  # error (t/599)/sigma grows linearly
    expected = int(np.sum(error_curve(truth, ramp) <= 0.4))
    assert valid_prediction_time(truth, ramp) == expected and 0 < expected < 600
    assert valid_prediction_time(truth, ramp, threshold=10.0) == 600


def test_non_finite_forecasts_are_infinitely_wrong(truth):
    forecast = truth.copy()
    forecast[10:] = np.nan
    assert valid_prediction_time(truth, forecast) == 10
    assert nrmse(truth, forecast) == np.inf


def test_bad_input_errors(truth):
    with pytest.raises(ValueError, match=r"same shape; got \(600, 2\) and \(600, 1\)"):
        nrmse(truth, truth[:, :1])
    with pytest.raises(ValueError, match="constant feature"):
        nrmse(np.ones((5, 1)), np.ones((5, 1)))
    assert nrmse(np.ones((5, 1)), np.zeros((5, 1)), scale=2.0) == 0.5
    with pytest.raises(ValueError, match="scale must hold 2 positive finite values"):
        nrmse(truth, truth, scale=[1.0, 0.0])
    with pytest.raises(ValueError, match=r"non-empty \(time, features\) array; got shape \(2, 3, 4\)"):
        nrmse(np.zeros((2, 3, 4)), np.zeros((2, 3, 4)))
    with pytest.raises(TypeError, match="y_pred must be a numeric array"):
        nrmse(truth, "forecast")
    with pytest.raises(ValueError, match="y_true holds NaN"):
        nrmse(np.full((3, 1), np.nan), np.zeros((3, 1)))
    with pytest.raises(ValueError, match="threshold must be a finite number > 0"):
        valid_prediction_time(truth, truth, threshold=0.0)
    with pytest.raises(ValueError, match="lyapunov_exponent must be a finite number > 0"):
        valid_prediction_time(truth, truth, lyapunov_exponent=-1.0)
