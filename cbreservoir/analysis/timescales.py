"""Timescales of activity as the study defines them: the population's 1/e lag and per-unit exponential fits.

Signals are 1-D ``(time,)`` or ``(trials, time)``; population activity is ``(trials, time, units)``.
Timescales are in time steps. The estimator throughout is the study's: each trial's mean removed, the
lag-k products summed and divided by ``T − k`` (unbiased), averaged over trials, normalised by lag 0.

* Population timescale τ_pop (:func:`population_timescale`): the units' activities are **summed** into one
  signal per trial; τ_pop is the first whole lag k (0–199) at which its autocorrelation is ``<= 1/e``.
* Network timescale τ_net (:func:`fit_unit_timescales`): each unit's autocorrelation at lags 0–30 is fitted
  with a single exponential ``a e^(−t/τ)`` and a double ``a [c e^(−t/τ1) + (1 − c) e^(−t/τ2)]``
  (a, c in [0, 1], τ <= 500), the one with the lower ``AIC = 2k + n ln(RSS/n)`` kept; τ_net of a unit is τ
  of the single fit or the slower τ of the double. Reported: median and mean τ_net over units, and the
  fraction of units the double fit wins.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.analysis import autocorrelation_timescale, fit_exponential_decay, autocorrelation
>>> rng = np.random.default_rng(0)
>>> x = np.zeros((20, 2000))
>>> for t in range(1, 2000):  # AR(1) with coefficient 0.8: 0.8^k <= 1/e first at k = 5
...     x[:, t] = 0.8 * x[:, t - 1] + rng.standard_normal(20)
>>> autocorrelation_timescale(x)
5
>>> lags = np.arange(31)  # a mixture of τ = 2 and τ = 12: τ_net is the slower
>>> fit = fit_exponential_decay(0.7 * np.exp(-lags / 2.0) + 0.3 * np.exp(-lags / 12.0))
>>> fit.model, round(fit.timescale, 2), round(fit.weight, 2)
('double', 12.0, 0.7)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.optimize import curve_fit

from cbreservoir.utils.checks import as_float_array, check_int, check_min_length

#: The threshold of the 1/e lag.
INVERSE_E = 1.0 / math.e
#: Largest lag of the population autocorrelation (the study: lags 0–199).
POPULATION_MAX_LAG = 199
#: Largest lag of the per-unit exponential fits (the study: lags 0–30).
UNIT_MAX_LAG = 30
#: Upper bound of every fitted τ (steps).
MAX_TAU = 500.0


def _check_max_lag(max_lag: int, length: int) -> int:
    return check_int(max_lag, "max_lag", minimum=1, maximum=length - 1)


def _autocovariance(columns: np.ndarray, max_lag: int) -> np.ndarray:
    """Unbiased autocovariance of every column of ``columns`` (time, n), its mean removed: (n, max_lag + 1).

    The lag-k products are summed directly (``max_lag`` is small beside the signal's length) in float64.
    """
    length = columns.shape[0]
    centred = columns - columns.mean(axis=0, dtype=np.float64)
    products = [np.einsum("tn,tn->n", centred[: length - lag], centred[lag:]) for lag in range(max_lag + 1)]
    return np.stack(products, axis=1) / (length - np.arange(max_lag + 1))


def autocorrelation(signal: object, max_lag: int = POPULATION_MAX_LAG) -> np.ndarray:
    """Normalised, unbiased autocorrelation, averaged over trials (the study's estimator).

    ``ρ(k) = C(k) / C(0)`` with ``C(k)`` the mean over trials of ``Σ_t (x_t − m)(x_{t+k} − m) / (T − k)``
    (``m`` each trial's mean).

    Parameters
    ----------
    signal : array-like (time,) or (trials, time)
    max_lag : int
        Largest lag returned (default 199, the study's population window); at most ``time − 1``.

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
    covariance = _autocovariance(trials.T, max_lag).mean(axis=0)
    if covariance[0] <= 0.0:
        raise ValueError("signal has no variance around its mean; its autocorrelation is undefined")
    return covariance / covariance[0]


def timescale_from_autocorrelation(acf: object) -> int | None:
    """First whole lag at which an autocorrelation is ``<= 1/e``; None if it stays above up to its last lag.

    Parameters
    ----------
    acf : array-like (lags,)
        ρ(0), ρ(1), ... as returned by :func:`autocorrelation`.
    """
    values = as_float_array(acf, "acf", dtype=np.float64, ndims=(1,), finite=True)
    below = np.flatnonzero(values <= INVERSE_E)
    return int(below[0]) if below.size else None


def autocorrelation_timescale(signal: object, max_lag: int = POPULATION_MAX_LAG) -> int | None:
    """:func:`timescale_from_autocorrelation` of :func:`autocorrelation`: the signal's 1/e lag.

    For an AR(1) process with coefficient r this is the first whole k with ``r^k <= 1/e``.
    """
    return timescale_from_autocorrelation(autocorrelation(signal, max_lag))


def _trials(activity: object) -> np.ndarray:
    """(trials, time, units) activity in its floating dtype (a (time, units) array is one trial)."""
    array = as_float_array(activity, "activity", ndims=(2, 3), finite=True)
    return array if array.ndim == 3 else array[None]


def population_signal(activity: object) -> np.ndarray:
    """The population's summed activity: (trials, time, units) or (time, units) -> (trials, time), float64."""
    return _trials(activity).sum(axis=-1, dtype=np.float64)


def population_autocorrelation(activity: object, max_lag: int = POPULATION_MAX_LAG) -> np.ndarray:
    """:func:`autocorrelation` of the :func:`population_signal` (the units summed first, not averaged after).

    Raises
    ------
    ValueError
        If the summed signal has no variance (a silent or constant population).
    """
    return autocorrelation(population_signal(activity), max_lag)


def population_timescale(activity: object, max_lag: int = POPULATION_MAX_LAG) -> int | None:
    """τ_pop: the first whole lag where :func:`population_autocorrelation` <= 1/e (None: beyond max_lag)."""
    return timescale_from_autocorrelation(population_autocorrelation(activity, max_lag))


def unit_autocorrelations(activity: object, max_lag: int = UNIT_MAX_LAG) -> np.ndarray:
    """:func:`autocorrelation` of every unit of (trials, time, units) or (time, units) activity.

    Computed in float64 one trial at a time (float32 activity is not copied whole).

    Returns
    -------
    ndarray (units, max_lag + 1)
        NaN rows for units without variance (silent or constant).
    """
    trials = _trials(activity)
    check_min_length(trials, 1, 2, "activity", "time steps")
    max_lag = _check_max_lag(max_lag, trials.shape[1])
    covariance = np.zeros((trials.shape[2], max_lag + 1))
    scale = np.zeros(trials.shape[2])
    for trial in trials:
        covariance += _autocovariance(trial, max_lag) / trials.shape[0]
        scale += np.mean(np.square(trial, dtype=np.float64), axis=0) / trials.shape[0]
    active = covariance[:, 0] > 1e-12 * scale + 1e-300
    acfs = np.full(covariance.shape, np.nan)
    acfs[active] = covariance[active] / covariance[active, :1]
    return acfs


@dataclass(frozen=True, kw_only=True)
class ExponentialFit:
    """Single and double exponential fits of an autocorrelation, chosen by AIC.

    Attributes
    ----------
    model : str
        ``"single"`` (``a e^(−t/τ)``) or ``"double"`` (``a [c e^(−t/τ1) + (1 − c) e^(−t/τ2)]``): the lower
        AIC.
    timescale : float
        τ_net: τ of the single fit, or the slower τ of the double fit.
    taus : tuple of float
        τ of the chosen model, fastest first.
    amplitude : float
        a of the chosen model.
    weight : float
        c of the double fit (the weight of its faster τ after ordering); 1.0 for the single fit.
    aic_single, aic_double : float
        ``2k + n ln(RSS / n)`` of each model (k = 2 and 4 parameters, n lags).
    """

    model: str
    timescale: float
    taus: tuple[float, ...]
    amplitude: float
    weight: float
    aic_single: float
    aic_double: float


def _single_exponential(lags: np.ndarray, amplitude: float, tau: float) -> np.ndarray:
    return amplitude * np.exp(-lags / tau)


def _single_jacobian(lags: np.ndarray, amplitude: float, tau: float) -> np.ndarray:
    decay = np.exp(-lags / tau)
    return np.column_stack([decay, amplitude * lags / tau**2 * decay])


def _double_exponential(
    lags: np.ndarray, amplitude: float, weight: float, tau_1: float, tau_2: float
) -> np.ndarray:
    first, second = np.exp(-lags / tau_1), np.exp(-lags / tau_2)
    return amplitude * (weight * first + (1.0 - weight) * second)


def _double_jacobian(
    lags: np.ndarray, amplitude: float, weight: float, tau_1: float, tau_2: float
) -> np.ndarray:
    first, second = np.exp(-lags / tau_1), np.exp(-lags / tau_2)
    return np.column_stack(
        [
            weight * first + (1.0 - weight) * second,
            amplitude * (first - second),
            amplitude * weight * lags / tau_1**2 * first,
            amplitude * (1.0 - weight) * lags / tau_2**2 * second,
        ]
    )


_MIN_TAU = 1e-3
#: Log-spaced τ of the grid search that starts every fit, from _MIN_GRID_TAU to MAX_TAU.
_GRID_SIZE = 48
_MIN_GRID_TAU = 0.1
#: Function evaluations of the least-squares refinement of a grid start.
_MAX_REFINE_EVALUATIONS = 20
#: RSS / n below this counts as this (a perfect fit would give ln 0).
_MIN_MEAN_SQUARE = 1e-300


def _grid_starts(values: np.ndarray, lags: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Best single and double fits of every row of ``values`` (units, lags) over a grid of τ.

    For each τ (pair) the coefficients are the least-squares solution; a single amplitude is clipped to
    [0, 1], a pair is kept only when both coefficients are >= 0 and sum to <= 1 (a and c in [0, 1]). Returns
    (units, 2) ``[a, τ]`` and (units, 4) ``[a, c, τ1, τ2]`` starts.
    """
    taus = np.geomspace(_MIN_GRID_TAU, MAX_TAU, _GRID_SIZE)
    basis = np.exp(-lags[None, :] / taus[:, None])  # (K, L)
    gram = basis @ basis.T  # (K, K)
    norms = np.diag(gram)
    projections = values @ basis.T  # (U, K)
    units = np.arange(values.shape[0])

    amplitudes = np.clip(projections / norms, 0.0, 1.0)
    single_loss = amplitudes**2 * norms - 2 * amplitudes * projections  # RSS minus ||y||²
    best = np.argmin(single_loss, axis=1)
    single = np.column_stack([amplitudes[units, best], taus[best]])

    first, second = np.triu_indices(_GRID_SIZE, k=1)
    determinant = norms[first] * norms[second] - gram[first, second] ** 2
    p_first, p_second = projections[:, first], projections[:, second]
    b_first = (norms[second] * p_first - gram[first, second] * p_second) / determinant
    b_second = (norms[first] * p_second - gram[first, second] * p_first) / determinant
    double_loss = -(b_first * p_first + b_second * p_second)
    feasible = (np.minimum(b_first, b_second) >= 0) & (b_first + b_second <= 1.0)
    double_loss = np.where(feasible, double_loss, np.inf)
    pair = np.argmin(double_loss, axis=1)
    b_1, b_2 = b_first[units, pair], b_second[units, pair]
    total = b_1 + b_2
    double = np.column_stack(
        [
            total,
            np.divide(b_1, total, out=np.full_like(total, 0.5), where=total > 0),
            taus[first[pair]],
            taus[second[pair]],
        ]
    )
    # no feasible pair: start from the single fit split over two nearby timescales
    fallback = ~np.isfinite(double_loss[units, pair])
    double[fallback] = np.column_stack(
        [single[fallback, 0], np.full(fallback.sum(), 0.5), single[fallback, 1] / 2, single[fallback, 1] * 2]
    )
    return single, double


def _refine(
    function, jacobian, lags: np.ndarray, values: np.ndarray, start: np.ndarray, lower: list, upper: list
) -> tuple[np.ndarray, float]:
    """Refine a grid start by bounded least squares (kept if the fit fails or is worse): (params, AIC)."""
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
    return params, 2 * start.size + n * math.log(max(residual_sum(params) / n, _MIN_MEAN_SQUARE))


def _select(
    lags: np.ndarray, values: np.ndarray, single_start: np.ndarray, double_start: np.ndarray
) -> ExponentialFit:
    """Refine both models for one unit and keep the one with the lower AIC."""
    single, aic_single = _refine(
        _single_exponential, _single_jacobian, lags, values, single_start, [0.0, _MIN_TAU], [1.0, MAX_TAU]
    )
    double, aic_double = _refine(
        _double_exponential,
        _double_jacobian,
        lags,
        values,
        double_start,
        [0.0, 0.0, _MIN_TAU, _MIN_TAU],
        [1.0, 1.0, MAX_TAU, MAX_TAU],
    )
    if aic_double < aic_single:
        amplitude, weight, tau_1, tau_2 = (float(value) for value in double)
        if tau_1 > tau_2:
            tau_1, tau_2, weight = tau_2, tau_1, 1.0 - weight
        model, taus = "double", (tau_1, tau_2)
    else:
        amplitude, weight, taus, model = float(single[0]), 1.0, (float(single[1]),), "single"
    return ExponentialFit(
        model=model,
        timescale=max(taus),
        taus=taus,
        amplitude=amplitude,
        weight=weight,
        aic_single=aic_single,
        aic_double=aic_double,
    )


def _fit_rows(acfs: np.ndarray) -> list[ExponentialFit]:
    """:func:`fit_exponential_decay` of every row of ``acfs`` (rows, lags), the grid search vectorised."""
    if acfs.shape[1] < 5:
        raise ValueError(f"fitting needs the autocorrelation at at least 5 lags (0-4), got {acfs.shape[1]}")
    lags = np.arange(acfs.shape[1], dtype=np.float64)
    single_starts, double_starts = _grid_starts(acfs, lags)
    return [
        _select(lags, row, single, double)
        for row, single, double in zip(acfs, single_starts, double_starts, strict=True)
    ]


def fit_exponential_decay(acf: object) -> ExponentialFit:
    """Fit the study's single and double exponentials to an autocorrelation and keep the lower AIC.

    The fit covers every given lag from 0 (the study: lags 0–30 of an autocorrelation normalised by lag 0).
    Single ``a e^(−t/τ)``, double ``a [c e^(−t/τ1) + (1 − c) e^(−t/τ2)]``, with a, c in [0, 1] and
    τ in [0.001, 500]; each model starts from its best least-squares fit over a log-spaced grid of τ and
    is refined with ``scipy.optimize.curve_fit``. ``AIC = 2k + n ln(RSS/n)``.

    Parameters
    ----------
    acf : array-like (lags,)
        ρ(0), ρ(1), ... (see :func:`autocorrelation`); at least 5 lags.

    Returns
    -------
    ExponentialFit

    Raises
    ------
    ValueError
        If fewer than 5 lags are given.
    """
    return _fit_rows(as_float_array(acf, "acf", dtype=np.float64, ndims=(1,), finite=True)[None])[0]


@dataclass(frozen=True)
class UnitTimescales:
    """Per-unit exponential fits of a population's activity.

    Attributes
    ----------
    timescales : ndarray (units,)
        τ_net of each unit (:attr:`ExponentialFit.timescale`); NaN for units without variance.
    is_double : ndarray of bool (units,)
        Whether AIC chose the double exponential for that unit.
    """

    timescales: np.ndarray
    is_double: np.ndarray

    @property
    def _fitted(self) -> np.ndarray:
        return np.isfinite(self.timescales)

    @property
    def n_fitted(self) -> int:
        """Units that had variance and were fitted."""
        return int(self._fitted.sum())

    @property
    def median_timescale(self) -> float:
        """Median τ_net over the fitted units (NaN if none)."""
        return float(np.median(self.timescales[self._fitted])) if self.n_fitted else math.nan

    @property
    def mean_timescale(self) -> float:
        """Mean τ_net over the fitted units (NaN if none)."""
        return float(np.mean(self.timescales[self._fitted])) if self.n_fitted else math.nan

    @property
    def fraction_double(self) -> float:
        """Fraction of fitted units for which AIC chose the double exponential (NaN if none)."""
        return float(self.is_double[self._fitted].mean()) if self.n_fitted else math.nan


def fit_unit_timescales(activity: object, max_lag: int = UNIT_MAX_LAG) -> UnitTimescales:
    """:func:`fit_exponential_decay` of each unit's autocorrelation at lags ``0 .. max_lag`` (the study: 30).

    Parameters
    ----------
    activity : array-like (trials, time, units) or (time, units)
    max_lag : int
        Largest fitted lag (at least 4).

    Returns
    -------
    UnitTimescales
        Units without variance are left out (NaN).
    """
    acfs = unit_autocorrelations(activity, max_lag)
    active = np.isfinite(acfs[:, 0])
    timescales = np.full(acfs.shape[0], np.nan)
    is_double = np.zeros(acfs.shape[0], dtype=bool)
    if active.any():
        fits = _fit_rows(acfs[active])
        timescales[active] = [fit.timescale for fit in fits]
        is_double[active] = [fit.model == "double" for fit in fits]
    return UnitTimescales(timescales=timescales, is_double=is_double)
