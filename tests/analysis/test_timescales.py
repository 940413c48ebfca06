"""The study's timescales on synthetic populations with known answers: AR(1) units, mixtures, sums."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.signal import lfilter

from cbreservoir.analysis import (
    autocorrelation,
    autocorrelation_timescale,
    fit_exponential_decay,
    fit_unit_timescales,
    population_autocorrelation,
    population_signal,
    population_timescale,
    timescale_from_autocorrelation,
    unit_autocorrelations,
)
from cbreservoir.analysis.timescales import MAX_TAU, POPULATION_MAX_LAG, UNIT_MAX_LAG


def ar1(coefficients, trials, length, seed, burn_in=200):
    """Independent AR(1) units x_t = r x_{t-1} + noise, (trials, time, units), one coefficient per unit."""
    coefficients = np.atleast_1d(coefficients)
    noise = np.random.default_rng(seed).standard_normal((trials, length + burn_in, coefficients.size))
    units = [lfilter([1.0], [1.0, -r], noise[..., [u]], axis=1) for u, r in enumerate(coefficients)]
    return np.concatenate(units, axis=-1)[:, burn_in:]


def first_lag_below_inverse_e(coefficient):
    """The 1/e lag of an AR(1) process: the first whole k with r^k <= 1/e."""
    return next(k for k in range(10_000) if coefficient**k <= 1 / math.e)


def test_the_study_windows():
    assert (POPULATION_MAX_LAG, UNIT_MAX_LAG, MAX_TAU) == (199, 30, 500.0)
    assert autocorrelation(np.random.default_rng(0).standard_normal(400)).shape == (200,)


def test_autocorrelation_matches_direct_unbiased_estimate():
    signal = np.random.default_rng(0).standard_normal((3, 50))
    centred = signal - signal.mean(axis=1, keepdims=True)
    direct = np.array(
        [np.mean([np.dot(row[: 50 - k], row[k:]) / (50 - k) for row in centred]) for k in range(11)]
    )
    np.testing.assert_allclose(autocorrelation(signal, max_lag=10), direct / direct[0], atol=1e-12)
    np.testing.assert_allclose(autocorrelation(signal[0], 10), autocorrelation(signal[:1], 10), atol=1e-12)


@pytest.mark.parametrize("coefficient", [0.5, 0.8, 0.9])
def test_ar1_one_over_e_lag_is_the_first_whole_lag_with_r_to_the_k_below_1_over_e(coefficient):
    signal = ar1(coefficient, trials=8, length=4000, seed=1)[..., 0]
    assert autocorrelation_timescale(signal) == first_lag_below_inverse_e(coefficient)


def test_timescale_is_the_first_whole_lag_at_or_below_1_over_e():
    assert timescale_from_autocorrelation([1.0, 0.6, 0.4, 0.2, 0.1]) == 3
    assert timescale_from_autocorrelation([1.0, 0.5, 1 / math.e, 0.1]) == 2  # <= counts
    assert timescale_from_autocorrelation(np.ones(4)) is None  # beyond the window


def test_the_population_timescale_sums_the_units_it_does_not_average_their_autocorrelations():
    # a fast unit with a large variance beside a slow unit with a small one: the summed signal is
    # dominated by the fast unit, the average of the normalised per-unit curves is not
    fast = 20.0 * ar1(0.3, trials=8, length=4000, seed=2)  # variance 440, acf 0.3^k
    slow = ar1(0.97, trials=8, length=4000, seed=3)  # variance 16.9, acf 0.97^k
    activity = np.concatenate([fast, slow], axis=-1)
    np.testing.assert_allclose(population_signal(activity), fast[..., 0] + slow[..., 0])
    summed = population_autocorrelation(activity)
    np.testing.assert_allclose(summed, autocorrelation(fast[..., 0] + slow[..., 0]))
    averaged = np.nanmean(unit_autocorrelations(activity, POPULATION_MAX_LAG), axis=0)
    # expected: (440 · 0.3 + 16.9 · 0.97) / 456.9 = 0.32 <= 1/e at lag 1; (0.3^k + 0.97^k) / 2 first at k ≈ 11
    assert population_timescale(activity) == timescale_from_autocorrelation(summed) == 1
    assert timescale_from_autocorrelation(averaged) >= 8
    with pytest.raises(ValueError, match="no variance"):
        population_autocorrelation(np.zeros((2, 30, 4)), max_lag=10)


@settings(max_examples=10, deadline=None)
@given(st.floats(0.3, 0.92), st.integers(0, 2**16))
def test_population_of_identical_ar1_units_has_their_1_over_e_lag(coefficient, seed):
    # units driven by one AR(1) process plus a little independent noise: the sum keeps its 1/e lag
    shared = ar1(coefficient, trials=8, length=3000, seed=seed)
    noise = 0.05 * np.random.default_rng(seed + 1).standard_normal((8, 3000, 4))
    expected = first_lag_below_inverse_e(coefficient)
    measured = population_timescale(shared + noise, max_lag=60)
    assert abs(measured - expected) <= 1  # at a threshold crossing, sampling may move it by one lag


def noisy(acf, seed, scale=1e-3):
    return acf + scale * np.random.default_rng(seed).standard_normal(acf.shape)


def test_single_exponential_data_picks_the_single_fit():
    lags = np.arange(UNIT_MAX_LAG + 1)
    fit = fit_exponential_decay(noisy(0.9 * np.exp(-lags / 5.0), seed=0))
    assert fit.model == "single" and fit.aic_single < fit.aic_double
    assert fit.timescale == pytest.approx(5.0, rel=0.02) and fit.amplitude == pytest.approx(0.9, rel=0.02)


def test_double_exponential_data_picks_the_double_fit_and_reports_the_slower_timescale():
    lags = np.arange(UNIT_MAX_LAG + 1)
    fit = fit_exponential_decay(noisy(0.6 * np.exp(-lags / 1.5) + 0.4 * np.exp(-lags / 20.0), seed=0))
    assert fit.model == "double" and fit.aic_double < fit.aic_single
    np.testing.assert_allclose(fit.taus, [1.5, 20.0], rtol=0.05)
    assert fit.timescale == max(fit.taus)  # not an amplitude-weighted mean
    assert fit.amplitude == pytest.approx(1.0, abs=0.01) and fit.weight == pytest.approx(0.6, rel=0.05)


def test_fits_respect_the_bounds_and_the_aic_definition():
    lags = np.arange(UNIT_MAX_LAG + 1)
    fit = fit_exponential_decay(noisy(np.ones(lags.size), seed=1))  # no decay within the window
    assert all(0 < tau <= MAX_TAU for tau in fit.taus) and 0 <= fit.amplitude <= 1
    values = noisy(0.8 * np.exp(-lags / 3.0), seed=2)
    fit = fit_exponential_decay(values)
    rss = np.sum((fit.amplitude * np.exp(-lags / fit.timescale) - values) ** 2)
    assert fit.aic_single == pytest.approx(2 * 2 + lags.size * math.log(rss / lags.size), rel=1e-9)


def test_unit_fits_recover_ar1_timescales_and_skip_units_without_variance():
    coefficients = np.array([0.5, 0.7, 0.85] * 5)
    activity = ar1(coefficients, trials=8, length=5000, seed=0)
    activity = np.concatenate([activity, np.full((8, 5000, 1), 2.0)], axis=-1)  # a constant unit
    fits = fit_unit_timescales(activity)
    assert np.isnan(fits.timescales[-1]) and fits.n_fitted == 15
    single = ~fits.is_double[:15]
    assert single.sum() >= 8
    np.testing.assert_allclose(fits.timescales[:15][single], -1 / np.log(coefficients[single]), rtol=0.1)
    # AIC may give an AR(1) unit a double fit with a slow, tiny tail (the estimate's noise at long lags),
    # so τ_net of a double fit is at least as slow as the unit's own τ
    assert np.all(fits.timescales[:15] >= 0.9 * -1 / np.log(coefficients))
    assert fits.fraction_double == pytest.approx(1 - single.mean())
    assert fits.median_timescale == pytest.approx(np.median(fits.timescales[:15]))
    assert fits.mean_timescale == pytest.approx(np.mean(fits.timescales[:15]))


def test_a_mixture_of_two_ar1_processes_is_fitted_by_two_timescales_the_slower_recovered():
    fast, slow = ar1([0.4, 0.95], trials=8, length=20_000, seed=4).transpose(2, 0, 1)
    fits = fit_unit_timescales((fast / fast.std() + 0.6 * slow / slow.std())[..., None])
    assert fits.is_double.all()
    assert fits.timescales[0] == pytest.approx(-1 / math.log(0.95), rel=0.25)


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: autocorrelation(np.zeros((2, 2, 2))), ValueError, "1-D or 2-D"),
        (lambda: autocorrelation(np.ones(10), 5), ValueError, "no variance"),
        (lambda: autocorrelation(np.arange(10.0), max_lag=10), ValueError, r"\[1, 9\]"),
        (lambda: autocorrelation(np.arange(10.0), max_lag=2.5), TypeError, "max_lag"),
        (lambda: autocorrelation(["a", "b"]), TypeError, "must hold real numbers"),
        (lambda: fit_exponential_decay(np.ones(4)), ValueError, "at least 5 lags"),
    ],
)
def test_bad_inputs_raise_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()
