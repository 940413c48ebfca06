"""Autocorrelation timescales and exponential fits on processes with known answers."""

import math

import numpy as np
import pytest

from cbreservoir.analysis import (
    autocorrelation,
    autocorrelation_timescale,
    fit_exponential_decay,
    fit_unit_timescales,
    network_timescale,
    population_autocorrelation,
    population_timescale,
    timescale_from_autocorrelation,
)


def ar1(coefficient, trials, length, seed, units=None):
    """AR(1) process x_t = a x_{t-1} + noise, started from its stationary distribution."""
    rng = np.random.default_rng(seed)
    shape = (trials,) if units is None else (trials, units)
    coefficient = np.asarray(coefficient)
    x = np.empty((length, *shape))
    x[0] = rng.standard_normal(shape) / np.sqrt(1 - coefficient**2)
    for t in range(1, length):
        x[t] = coefficient * x[t - 1] + rng.standard_normal(shape)
    return np.moveaxis(x, 0, 1)  # (trials, time[, units])


def test_autocorrelation_matches_direct_unbiased_estimate():
    signal = np.random.default_rng(0).standard_normal((3, 50))
    centred = signal - signal.mean(axis=1, keepdims=True)
    direct = np.array(
        [np.mean([np.dot(row[: 50 - k], row[k:]) / (50 - k) for row in centred]) for k in range(11)]
    )
    np.testing.assert_allclose(autocorrelation(signal, max_lag=10), direct / direct[0], atol=1e-12)
    np.testing.assert_allclose(autocorrelation(signal[0]), autocorrelation(signal[:1]), atol=1e-12)
    assert autocorrelation(signal).shape == (26,)


@pytest.mark.parametrize("coefficient", [0.5, 0.8, 0.9])
def test_ar1_timescale_is_minus_one_over_log_coefficient(coefficient):
    expected = -1 / math.log(coefficient)
    signal = ar1(coefficient, trials=40, length=1000, seed=1)
    assert autocorrelation_timescale(signal) == math.ceil(expected)
    assert autocorrelation_timescale(signal, interpolate=True) == pytest.approx(expected, rel=0.1)


def test_timescale_from_autocorrelation_whole_and_interpolated():
    acf = np.array([1.0, 0.6, 0.4, 0.2, 0.1])
    assert timescale_from_autocorrelation(acf) == 3.0
    expected = 2 + (0.4 - 1 / math.e) / 0.2
    assert timescale_from_autocorrelation(acf, interpolate=True) == pytest.approx(expected)
    assert timescale_from_autocorrelation(np.ones(4)) == math.inf


def test_population_timescale_averages_units_and_skips_silent_ones():
    activity = ar1(np.array([0.8, 0.8, 0.8]), trials=20, length=800, seed=2, units=3)
    activity = np.concatenate([activity, np.zeros((20, 800, 1))], axis=-1)  # a silent unit
    acf = population_autocorrelation(activity, max_lag=20)
    np.testing.assert_allclose(acf, 0.8 ** np.arange(21), atol=0.05)
    assert population_timescale(activity, max_lag=20) == 5.0
    with pytest.raises(ValueError, match="no unit with variance"):
        population_autocorrelation(np.zeros((2, 30, 4)))


def noisy(acf, seed, scale=1e-3):
    return acf + scale * np.random.default_rng(seed).standard_normal(acf.shape)


def test_single_exponential_data_picks_the_single_fit():
    lags = np.arange(41)
    fit = fit_exponential_decay(noisy(np.exp(-lags / 5.0), seed=0))
    assert fit.model == "single"
    assert fit.timescale == pytest.approx(5.0, rel=0.02)
    assert fit.aic_single < fit.aic_double


def test_double_exponential_data_picks_the_double_fit():
    lags = np.arange(61)
    fit = fit_exponential_decay(noisy(0.6 * np.exp(-lags / 1.5) + 0.4 * np.exp(-lags / 20.0), seed=0))
    assert fit.model == "double"
    np.testing.assert_allclose(fit.taus, [1.5, 20.0], rtol=0.05)
    np.testing.assert_allclose(fit.amplitudes, [0.6, 0.4], rtol=0.05)
    assert fit.timescale == pytest.approx((0.6 * 1.5 + 0.4 * 20.0) / 1.0, rel=0.05)


def test_unit_fits_recover_each_units_timescale():
    coefficients = np.array([0.5, 0.7, 0.85])
    activity = ar1(coefficients, trials=30, length=600, seed=3, units=3)
    activity = np.concatenate([activity, np.full((30, 600, 1), 2.0)], axis=-1)  # constant unit
    fits = fit_unit_timescales(activity, max_lag=12)
    np.testing.assert_allclose(fits.timescales[:3], -1 / np.log(coefficients), rtol=0.2)
    assert np.isnan(fits.timescales[3])
    assert fits.median_timescale == pytest.approx(-1 / math.log(0.7), rel=0.2)
    assert 0.0 <= fits.fraction_double <= 1.0
    assert network_timescale(activity[..., :3], max_lag=12).timescale > 0


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: autocorrelation(np.zeros((2, 2, 2))), ValueError, "1-D or 2-D"),
        (lambda: autocorrelation(np.ones(10)), ValueError, "no variance"),
        (lambda: autocorrelation(np.arange(10.0), max_lag=10), ValueError, r"\[1, 9\]"),
        (lambda: autocorrelation(np.arange(10.0), max_lag=2.5), TypeError, r"max_lag \(None: .*an int"),
        (lambda: autocorrelation(["a", "b"]), TypeError, "must hold real numbers"),
        (lambda: fit_exponential_decay(np.ones(4)), ValueError, "at least 5 lags"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
