"""Timescales of activity: unbiased autocorrelation, the 1/e lag and exponential fits.

Signals are 1-D ``(time,)`` or ``(trials, time)``; population activity is ``(trials, time, units)``.
Timescales are in time steps.

Examples
--------
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

from cbreservoir.analysis._checks import check_min_length
from cbreservoir.utils.validation import as_float_array, check_int

#: The threshold of :func:`autocorrelation_timescale`.
INVERSE_E = 1.0 / math.e


def _check_max_lag(max_lag: int | None, length: int) -> int:
    if max_lag is None:
        return length // 2
    return check_int(
        max_lag, f"max_lag (None: half of the {length} time steps)", minimum=1, maximum=length - 1
    )


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
    array = as_float_array(signal, "signal", dtype=np.float64, ndims=(1, 2), finite=True)
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
    array = as_float_array(activity, "activity", dtype=np.float64, ndims=(2, 3), finite=True)
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
    acf: object, *, threshold: float = INVERSE_E, interpolate: bool = False
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
    values = as_float_array(acf, "acf", dtype=np.float64, ndims=(1,), finite=True)
    below = np.flatnonzero(values < threshold)
    if below.size == 0:
        return math.inf
    lag = int(below[0])
    if not interpolate or lag == 0:
        return float(lag)
    above_value, below_value = values[lag - 1], values[lag]
    return float(lag - 1 + (above_value - threshold) / (above_value - below_value))


def autocorrelation_timescale(
    signal: object, max_lag: int | None = None, *, threshold: float = INVERSE_E, interpolate: bool = False
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
    return timescale_from_autocorrelation(
        autocorrelation(signal, max_lag), threshold=threshold, interpolate=interpolate
    )


def population_timescale(
    activity: object, max_lag: int | None = None, *, threshold: float = INVERSE_E, interpolate: bool = False
) -> float:
    """:func:`autocorrelation_timescale` of :func:`population_autocorrelation` for (trials, time, units)."""
    acf = population_autocorrelation(activity, max_lag)
    return timescale_from_autocorrelation(acf, threshold=threshold, interpolate=interpolate)


@dataclass(frozen=True, kw_only=True)
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
        ``n ln(RSS / n) + 2 p`` of each model.
    """

    model: str
    timescale: float
    taus: tuple[float, ...]
    amplitudes: tuple[float, ...]
    aic_single: float
    aic_double: float


def _single_exponential(lags: np.ndarray, amplitude: float, tau: float) -> np.ndarray:
    return amplitude * np.exp(-lags / tau)


def _single_jacobian(lags: np.ndarray, amplitude: float, tau: float) -> np.ndarray:
    decay = np.exp(-lags / tau)
    return np.column_stack([decay, amplitude * lags / tau**2 * decay])


def _double_exponential(
    lags: np.ndarray, amplitude_1: float, tau_1: float, amplitude_2: float, tau_2: float
) -> np.ndarray:
    return _single_exponential(lags, amplitude_1, tau_1) + _single_exponential(lags, amplitude_2, tau_2)


def _double_jacobian(
    lags: np.ndarray, amplitude_1: float, tau_1: float, amplitude_2: float, tau_2: float
) -> np.ndarray:
    return np.hstack([_single_jacobian(lags, amplitude_1, tau_1), _single_jacobian(lags, amplitude_2, tau_2)])


_MIN_TAU = 1e-3
_MAX_AMPLITUDE = 10.0
#: Fitted τ are capped at this multiple of the largest fitted lag (longer ones are not resolvable).
_MAX_TAU_PER_WINDOW = 2.0
#: Log-spaced τ of the grid search that starts every fit, from _MIN_GRID_TAU to the cap.
_GRID_SIZE = 48
_MIN_GRID_TAU = 0.1
#: Function evaluations of the least-squares refinement of a grid start.
_MAX_REFINE_EVALUATIONS = 20


def _grid_starts(values: np.ndarray, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best single and double fits of every row of ``values`` (units, lags) over a grid of τ.

    For each τ (pair) the amplitudes are the least-squares solution (pairs with a negative or too
    large amplitude are skipped); returns (units, 2) and (units, 4) parameter arrays
    ``[a, τ]`` and ``[a1, τ1, a2, τ2]``.
    """
    taus = np.geomspace(_MIN_GRID_TAU, _MAX_TAU_PER_WINDOW * lags[-1], _GRID_SIZE)
    basis = np.exp(-lags[None, :] / taus[:, None])  # (K, L)
    gram = basis @ basis.T  # (K, K)
    norms = np.diag(gram)
    projections = values @ basis.T  # (U, K)
    units = np.arange(values.shape[0])

    amplitudes = np.clip(projections / norms, 0.0, _MAX_AMPLITUDE)
    single_loss = amplitudes**2 * norms - 2 * amplitudes * projections  # RSS minus ||y||²
    best = np.argmin(single_loss, axis=1)
    single = np.column_stack([amplitudes[units, best], taus[best]])

    first, second = np.triu_indices(_GRID_SIZE, k=1)
    determinant = norms[first] * norms[second] - gram[first, second] ** 2
    p_first, p_second = projections[:, first], projections[:, second]
    a_first = (norms[second] * p_first - gram[first, second] * p_second) / determinant
    a_second = (norms[first] * p_second - gram[first, second] * p_first) / determinant
    double_loss = -(a_first * p_first + a_second * p_second)
    feasible = (np.minimum(a_first, a_second) >= 0) & (np.maximum(a_first, a_second) <= _MAX_AMPLITUDE)
    double_loss = np.where(feasible, double_loss, np.inf)
    best_pair = np.argmin(double_loss, axis=1)
    double = np.column_stack(
        [
            a_first[units, best_pair],
            taus[first[best_pair]],
            a_second[units, best_pair],
            taus[second[best_pair]],
        ]
    )
    # no feasible pair: start from the single fit split over two nearby timescales
    fallback = ~np.isfinite(double_loss[units, best_pair])
    double[fallback] = np.column_stack(
        [single[fallback, 0] / 2, single[fallback, 1] / 2, single[fallback, 0] / 2, single[fallback, 1] * 2]
    )
    return single, np.clip(double, 0.0, None)


def _refine(
    function, jacobian, lags: np.ndarray, values: np.ndarray, start: np.ndarray
) -> tuple[np.ndarray, float]:
    """Refine a grid start by least squares (kept if the fit fails or is worse); returns (params, AIC)."""
    n_params = start.size
    lower = np.tile([0.0, _MIN_TAU], n_params // 2)
    upper = np.tile([_MAX_AMPLITUDE, _MAX_TAU_PER_WINDOW * lags[-1]], n_params // 2)
    start = np.clip(start, lower, upper)

    def residual_sum(params: np.ndarray) -> float:
        return float(np.sum((function(lags, *params) - values) ** 2))

    params = start
    try:
        fitted, _ = curve_fit(
            function,
            lags,
            values,
            p0=start,
            jac=jacobian,
            bounds=(lower, upper),
            max_nfev=_MAX_REFINE_EVALUATIONS,
        )
        if residual_sum(fitted) < residual_sum(start):
            params = fitted
    except (RuntimeError, ValueError):
        pass
    n = values.size
    return params, n * math.log(max(residual_sum(params) / n, 1e-300)) + 2 * n_params


def _select(
    lags: np.ndarray, values: np.ndarray, single_start: np.ndarray, double_start: np.ndarray
) -> ExponentialFit:
    """Refine both models for one unit and keep the one with the lower AIC."""
    single, aic_single = _refine(_single_exponential, _single_jacobian, lags, values, single_start)
    double, aic_double = _refine(_double_exponential, _double_jacobian, lags, values, double_start)
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


def _fit_rows(acfs: np.ndarray, first_lag: int) -> list[ExponentialFit]:
    """:func:`fit_exponential_decay` of every row of ``acfs`` (rows, lags), grid search vectorised."""
    values = acfs[:, first_lag:]
    if values.shape[1] < 5:
        raise ValueError(f"fitting needs at least 5 lags from first_lag={first_lag}, got {values.shape[1]}")
    lags = np.arange(first_lag, first_lag + values.shape[1], dtype=np.float64)
    single_starts, double_starts = _grid_starts(values, lags)
    return [
        _select(lags, row, single, double)
        for row, single, double in zip(values, single_starts, double_starts, strict=True)
    ]


def fit_exponential_decay(acf: object, first_lag: int = 1) -> ExponentialFit:
    """Fit single and double exponentials to an autocorrelation function and keep the lower AIC.

    Each model is started from the best least-squares fit over a log-spaced grid of τ and refined
    with ``scipy.optimize.curve_fit`` (amplitudes in [0, 10]).

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
        If fewer than 5 lags are fitted.
    """
    return _fit_rows(as_float_array(acf, "acf", dtype=np.float64, ndims=(1,), finite=True)[None], first_lag)[
        0
    ]


@dataclass(frozen=True)
class UnitTimescales:
    """Per-unit exponential fits of a population's activity.

    Attributes
    ----------
    timescales : ndarray (units,)
        :attr:`ExponentialFit.timescale` of each unit; NaN for units without variance.
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


def fit_unit_timescales(
    activity: object, max_lag: int | None = None, *, first_lag: int = 1
) -> UnitTimescales:
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
    array = as_float_array(activity, "activity", dtype=np.float64, ndims=(2, 3), finite=True)
    acfs, active = _unit_autocorrelations(array, max_lag)
    timescales = np.full(acfs.shape[0], np.nan)
    is_double = np.zeros(acfs.shape[0], dtype=bool)
    if active.any():
        fits = _fit_rows(acfs[active], first_lag)
        timescales[active] = [fit.timescale for fit in fits]
        is_double[active] = [fit.model == "double" for fit in fits]
    return UnitTimescales(timescales=timescales, is_double=is_double)


def network_timescale(activity: object, max_lag: int | None = None, *, first_lag: int = 1) -> ExponentialFit:
    """Exponential fit (single or double, by AIC) of the :func:`population_autocorrelation`."""
    return fit_exponential_decay(population_autocorrelation(activity, max_lag), first_lag)
