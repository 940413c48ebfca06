"""Timescales of activity: unbiased autocorrelation, the 1/e lag and exponential fits.

Signals are 1-D ``(time,)`` or ``(trials, time)``; population activity is ``(trials, time, units)``.
Timescales are in time steps.

Example
-------
>>> import numpy as np
>>> from cbreservoir.analysis import autocorrelation_timescale, fit_exponential_decay, autocorrelation
>>> rng = np.random.default_rng(0)
>>> x = np.zeros((20, 2000))
>>> for t in range(1, 2000):  # AR(1) with coefficient 0.8: timescale -1/ln 0.8 = 4.48 steps
...     x[:, t] = 0.8 * x[:, t - 1] + rng.standard_normal(20)
>>> autocorrelation_timescale(x)  # first whole lag below 1/e
5.0
>>> fit = fit_exponential_decay(autocorrelation(x, max_lag=15))  # fit a few timescales
>>> fit.model, round(fit.timescale, 1)
('single', 4.3)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from cbreservoir.analysis._checks import as_float_array, check_min_length

#: The threshold of :func:`autocorrelation_timescale`.
INVERSE_E = 1.0 / math.e


def _check_max_lag(max_lag: int | None, length: int) -> int:
    if max_lag is None:
        return length // 2
    if isinstance(max_lag, bool) or not isinstance(max_lag, (int, np.integer)):
        raise TypeError(f"max_lag must be an int or None, got {type(max_lag).__name__}")
    if not 1 <= max_lag < length:
        raise ValueError(f"max_lag must be in [1, {length - 1}] for {length} time steps, got {max_lag}")
    return int(max_lag)


def _autocovariance(trials: np.ndarray, max_lag: int) -> np.ndarray:
    """Unbiased autocovariance per row of ``trials`` (rows, time), summed over rows; (max_lag + 1,)."""
    length = trials.shape[-1]
    centred = trials - trials.mean(axis=-1, keepdims=True)
    n_fft = 1 << (2 * length - 1).bit_length()
    spectrum = np.fft.rfft(centred, n=n_fft, axis=-1)
    lagged_products = np.fft.irfft(spectrum * np.conj(spectrum), n=n_fft, axis=-1)[..., : max_lag + 1]
    return lagged_products / (length - np.arange(max_lag + 1))


def autocorrelation(signal: object, max_lag: int | None = None) -> np.ndarray:
    """Normalised, unbiased autocorrelation, computed with the FFT and averaged over trials.

    ``ρ(k) = C(k) / C(0)`` with ``C(k) = mean over trials and t of x_t x_{t+k}`` (each trial's
    mean removed, each lag divided by its number of pairs ``T − k``).

    Parameters
    ----------
    signal : array-like (time,) or (trials, time)
    max_lag : int, optional
        Largest lag returned; default ``time // 2``.

    Returns
    -------
    ndarray (max_lag + 1,)
        ρ(0) = 1, ρ(1), ..., ρ(max_lag).

    Raises
    ------
    ValueError
        If the signal is not 1-D/2-D, is shorter than 2 steps, holds NaN/inf or has no variance.
    """
    array = as_float_array(signal, "signal", (1, 2))
    trials = np.atleast_2d(array)
    check_min_length(trials, 1, 2, "signal", "time steps")
    max_lag = _check_max_lag(max_lag, trials.shape[1])
    covariance = _autocovariance(trials, max_lag).sum(axis=0)
    if covariance[0] <= 0.0:
        raise ValueError("signal has no variance around its mean; its autocorrelation is undefined")
    return covariance / covariance[0]


def population_autocorrelation(activity: object, max_lag: int | None = None) -> np.ndarray:
    """Autocorrelation of population activity: the per-unit autocorrelations averaged over units.

    Units without variance (silent or constant) are left out.

    Parameters
    ----------
    activity : array-like (trials, time, units) or (time, units)
    max_lag : int, optional
        Largest lag; default ``time // 2``.

    Returns
    -------
    ndarray (max_lag + 1,)

    Raises
    ------
    ValueError
        If no unit has any variance.
    """
    array = as_float_array(activity, "activity", (2, 3))
    per_unit, active = _unit_autocorrelations(array, max_lag)
    if not active.any():
        raise ValueError(f"activity of shape {array.shape} has no unit with variance")
    return per_unit[active].mean(axis=0)


def _unit_autocorrelations(activity: np.ndarray, max_lag: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Autocorrelation of every unit of (trials, time, units) or (time, units) activity.

    Returns ``(acfs, active)``: acfs (units, max_lag + 1), NaN rows for units without variance;
    active (units,) bool marks the units with variance.
    """
    trials = activity if activity.ndim == 3 else activity[None]
    check_min_length(trials, 1, 2, "activity", "time steps")
    max_lag = _check_max_lag(max_lag, trials.shape[1])
    unit_rows = np.moveaxis(trials, -1, 0)  # (units, trials, time)
    covariance = _autocovariance(unit_rows, max_lag).sum(axis=1)  # (units, lags)
    power = np.mean(unit_rows**2, axis=(1, 2)) * unit_rows.shape[1]
    active = covariance[:, 0] > 1e-12 * power + 1e-300
    acfs = np.full(covariance.shape, np.nan)
    acfs[active] = covariance[active] / covariance[active, :1]
    return acfs, active


def timescale_from_autocorrelation(
    acf: object, threshold: float = INVERSE_E, interpolate: bool = False
) -> float:
    """First lag at which an autocorrelation function falls below ``threshold``.

    Parameters
    ----------
    acf : array-like (lags,)
        ρ(0), ρ(1), ... as returned by :func:`autocorrelation`.
    threshold : float
        Default 1/e.
    interpolate : bool
        If True, interpolate linearly between the last lag above and the first lag below the
        threshold (a fractional lag); otherwise return the whole lag.

    Returns
    -------
    float
        The lag in steps; ``inf`` if the autocorrelation stays above the threshold up to its last lag.
    """
    values = as_float_array(acf, "acf", (1,))
    below = np.flatnonzero(values < threshold)
    if below.size == 0:
        return math.inf
    lag = int(below[0])
    if not interpolate or lag == 0:
        return float(lag)
    above_value, below_value = values[lag - 1], values[lag]
    return float(lag - 1 + (above_value - threshold) / (above_value - below_value))


def autocorrelation_timescale(
    signal: object, max_lag: int | None = None, threshold: float = INVERSE_E, interpolate: bool = False
) -> float:
    """First lag (in steps) at which the signal's normalised autocorrelation falls below 1/e.

    For an AR(1) process with coefficient ``a`` this is about ``−1 / ln a``.

    Parameters
    ----------
    signal : array-like (time,) or (trials, time)
    max_lag : int, optional
        Largest lag examined; default ``time // 2``.
    threshold : float
        Default 1/e.
    interpolate : bool
        Return a fractional lag (see :func:`timescale_from_autocorrelation`).

    Returns
    -------
    float
        ``inf`` if the autocorrelation stays above the threshold up to ``max_lag``.
    """
    return timescale_from_autocorrelation(autocorrelation(signal, max_lag), threshold, interpolate)


def population_timescale(
    activity: object, max_lag: int | None = None, threshold: float = INVERSE_E, interpolate: bool = False
) -> float:
    """:func:`autocorrelation_timescale` of :func:`population_autocorrelation` for (trials, time, units)."""
    acf = population_autocorrelation(activity, max_lag)
    return timescale_from_autocorrelation(acf, threshold, interpolate)


@dataclass(frozen=True)
class ExponentialFit:
    """An exponential-decay model of an autocorrelation function, chosen by AIC.

    Attributes
    ----------
    model : str
        ``"single"`` (``a e^{−k/τ}``) or ``"double"`` (``a1 e^{−k/τ1} + a2 e^{−k/τ2}``, τ1 <= τ2).
    timescale : float
        τ of the single fit; for the double fit the amplitude-weighted mean ``Σ a_i τ_i / Σ a_i``.
    taus, amplitudes : tuple of float
        Parameters of the chosen model.
    aic_single, aic_double : float
        ``n ln(RSS / n) + 2 p`` of each model (``inf`` if its fit did not converge).
    """

    model: str
    timescale: float
    taus: tuple[float, ...]
    amplitudes: tuple[float, ...]
    aic_single: float
    aic_double: float


def _single_exponential(lags: np.ndarray, amplitude: float, tau: float) -> np.ndarray:
    return amplitude * np.exp(-lags / tau)


def _double_exponential(
    lags: np.ndarray, amplitude_1: float, tau_1: float, amplitude_2: float, tau_2: float
) -> np.ndarray:
    return _single_exponential(lags, amplitude_1, tau_1) + _single_exponential(lags, amplitude_2, tau_2)


_MIN_TAU = 1e-3
_MAX_AMPLITUDE = 10.0
#: Fitted τ are capped at this multiple of the largest fitted lag (longer ones are not resolvable).
_MAX_TAU_PER_WINDOW = 2.0


def _fit_with_aic(
    function, lags: np.ndarray, values: np.ndarray, initial: list[float]
) -> tuple[np.ndarray, float]:
    """Least-squares fit of ``function``; returns (parameters, AIC), AIC = inf when it fails."""
    n_params = len(initial)
    lower = [0.0, _MIN_TAU] * (n_params // 2)
    upper = [_MAX_AMPLITUDE, _MAX_TAU_PER_WINDOW * lags[-1]] * (n_params // 2)
    try:
        params, _ = curve_fit(function, lags, values, p0=initial, bounds=(lower, upper))
    except (RuntimeError, ValueError):
        return np.full(n_params, np.nan), math.inf
    residual_sum = float(np.sum((function(lags, *params) - values) ** 2))
    n = values.size
    return params, n * math.log(max(residual_sum / n, 1e-300)) + 2 * n_params


def fit_exponential_decay(acf: object, first_lag: int = 1) -> ExponentialFit:
    """Fit single and double exponentials to an autocorrelation function and keep the lower AIC.

    Parameters
    ----------
    acf : array-like (lags,)
        ρ(0), ρ(1), ... (see :func:`autocorrelation`).
    first_lag : int
        First lag included in the fit (default 1: lag 0 is 1 by construction). At least 5 lags
        from ``first_lag`` on are needed so that the double fit is determined. Fitted τ are
        bounded by twice the largest lag: longer timescales are not resolvable from the window.

    Returns
    -------
    ExponentialFit

    Raises
    ------
    ValueError
        If fewer than 5 lags are fitted or neither model converges.
    """
    values = as_float_array(acf, "acf", (1,))[first_lag:]
    if values.size < 5:
        raise ValueError(f"fitting needs at least 5 lags from first_lag={first_lag}, got {values.size}")
    lags = np.arange(first_lag, first_lag + values.size, dtype=np.float64)
    crossing = timescale_from_autocorrelation(np.concatenate([[1.0], values]), interpolate=True)
    max_tau = _MAX_TAU_PER_WINDOW * lags[-1]
    tau_guess = float(np.clip(crossing if math.isfinite(crossing) else lags[-1], 0.5, max_tau / 3))
    amplitude_guess = float(np.clip(values[0] * math.exp(first_lag / tau_guess), 0.01, 1.0))
    single, aic_single = _fit_with_aic(_single_exponential, lags, values, [amplitude_guess, tau_guess])
    double, aic_double = _fit_with_aic(
        _double_exponential,
        lags,
        values,
        [amplitude_guess / 2, tau_guess / 3, amplitude_guess / 2, tau_guess * 3],
    )
    if not (math.isfinite(aic_single) or math.isfinite(aic_double)):
        raise ValueError("neither the single nor the double exponential fit converged")
    if aic_double < aic_single:
        order = np.argsort(double[1::2])
        amplitudes, taus = double[0::2][order], double[1::2][order]
        weight = amplitudes.sum()
        timescale = float(amplitudes @ taus / weight) if weight > 0 else math.nan
        model = "double"
    else:
        amplitudes, taus = single[:1], single[1:]
        timescale, model = float(single[1]), "single"
    return ExponentialFit(
        model=model,
        timescale=timescale,
        taus=tuple(float(tau) for tau in taus),
        amplitudes=tuple(float(amplitude) for amplitude in amplitudes),
        aic_single=aic_single,
        aic_double=aic_double,
    )


@dataclass(frozen=True)
class UnitTimescales:
    """Per-unit exponential fits of a population's activity.

    Attributes
    ----------
    timescales : ndarray (units,)
        :attr:`ExponentialFit.timescale` of each unit; NaN for units without variance or whose fits failed.
    is_double : ndarray of bool (units,)
        Whether AIC chose the double exponential for that unit.
    """

    timescales: np.ndarray
    is_double: np.ndarray

    @property
    def median_timescale(self) -> float:
        """Median timescale over the units that were fitted (NaN if none)."""
        fitted = self.timescales[np.isfinite(self.timescales)]
        return float(np.median(fitted)) if fitted.size else math.nan

    @property
    def fraction_double(self) -> float:
        """Fraction of fitted units for which AIC chose the double exponential (NaN if none)."""
        fitted = np.isfinite(self.timescales)
        return float(self.is_double[fitted].mean()) if fitted.any() else math.nan


def fit_unit_timescales(activity: object, max_lag: int | None = None, first_lag: int = 1) -> UnitTimescales:
    """Fit :func:`fit_exponential_decay` to each unit's autocorrelation.

    Parameters
    ----------
    activity : array-like (trials, time, units) or (time, units)
    max_lag : int, optional
        Largest lag of the autocorrelations; default ``time // 2``.
    first_lag : int
        First lag included in the fits.

    Returns
    -------
    UnitTimescales
    """
    array = as_float_array(activity, "activity", (2, 3))
    acfs, active = _unit_autocorrelations(array, max_lag)
    timescales = np.full(acfs.shape[0], np.nan)
    is_double = np.zeros(acfs.shape[0], dtype=bool)
    for unit in np.flatnonzero(active):
        try:
            fit = fit_exponential_decay(acfs[unit], first_lag)
        except ValueError:
            continue
        timescales[unit], is_double[unit] = fit.timescale, fit.model == "double"
    return UnitTimescales(timescales=timescales, is_double=is_double)


def network_timescale(activity: object, max_lag: int | None = None, first_lag: int = 1) -> ExponentialFit:
    """Exponential fit (single or double, by AIC) of the :func:`population_autocorrelation`."""
    return fit_exponential_decay(population_autocorrelation(activity, max_lag), first_lag)
