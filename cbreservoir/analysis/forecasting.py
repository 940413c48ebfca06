"""Forecast scores: normalised root-mean-square error and valid prediction time. Pure numpy functions.

Both normalise every feature d by a scale σ_d, by default the standard deviation of the true series
(pass ``scale`` to use another, e.g. the training series'):

* :func:`nrmse` — sqrt(mean over t and d of (y − ŷ)² / σ_d²): 0 for a perfect forecast, 1 for the
  constant forecast of each feature's mean;
* :func:`error_curve` — the same per time step, e(t) = sqrt(mean over d of (y_t − ŷ_t)² / σ_d²);
* :func:`valid_prediction_time` — the time before e(t) first exceeds ``threshold`` (0.4, as Pathak et
  al. 2018), in units of ``dt``; with ``lyapunov_exponent`` λ, in Lyapunov times (t · λ).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.analysis.forecasting import nrmse, valid_prediction_time
>>> y = np.sin(np.linspace(0, 20, 500))[:, None]
>>> nrmse(y, y), round(nrmse(y, np.full_like(y, y.mean())), 12)
(0.0, 1.0)
>>> wrong = y.copy(); wrong[100:] = 10.0       # valid for the first 100 steps
>>> valid_prediction_time(y, wrong, dt=0.02, lyapunov_exponent=0.9056)   # 100 · 0.02 · 0.9056
1.8112
"""

from __future__ import annotations

import numpy as np

from cbreservoir.utils.checks import check_real

__all__ = ["nrmse", "error_curve", "valid_prediction_time"]

#: Error level e(t) at which a forecast stops being valid (Pathak et al. 2018).
VPT_THRESHOLD = 0.4


def _pair(y_true: object, y_pred: object, scale: object) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Validate two (T, d) series (1-D read as (T, 1)) and the per-feature scale σ (d,)."""
    arrays = []
    for value, name in ((y_true, "y_true"), (y_pred, "y_pred")):
        try:
            array = np.asarray(value, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(
                f"{name} must be a numeric array (time, features); got {type(value).__name__}"
            ) from error
        if array.ndim == 1:
            array = array[:, None]
        if array.ndim != 2 or array.shape[0] == 0:
            raise ValueError(f"{name} must be a non-empty (time, features) array; got shape {array.shape}")
        if not np.all(np.isfinite(array)) and name == "y_true":
            raise ValueError("y_true holds NaN or infinite values")
        arrays.append(array)
    truth, prediction = arrays
    if truth.shape != prediction.shape:
        raise ValueError(
            f"y_true and y_pred must have the same shape; got {truth.shape} and {prediction.shape}"
        )
    if scale is None:
        sigma = truth.std(axis=0)
        if truth.shape[0] < 2 or np.any(sigma == 0):
            raise ValueError(
                "y_true has a constant feature (or one step), so its standard deviation cannot be the "
                "scale; pass scale= (one positive value per feature)"
            )
    else:
        sigma = np.broadcast_to(np.asarray(scale, dtype=np.float64), (truth.shape[1],))
        if not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
            raise ValueError(f"scale must hold {truth.shape[1]} positive finite values; got {scale!r}")
    return truth, prediction, sigma


def error_curve(y_true: object, y_pred: object, *, scale: object = None) -> np.ndarray:
    """Normalised error at every step, e(t) = sqrt(mean_d (y_t,d − ŷ_t,d)² / σ_d²).

    Parameters
    ----------
    y_true, y_pred : array (T, d) or (T,)
    scale : float or array (d,), optional
        σ_d; default the standard deviation of ``y_true`` per feature.

    Returns
    -------
    ndarray (T,)
        Non-finite predictions give ``inf``.
    """
    truth, prediction, sigma = _pair(y_true, y_pred, scale)
    with np.errstate(over="ignore", invalid="ignore"):
        errors = np.sqrt(np.mean(((truth - prediction) / sigma) ** 2, axis=1))
    return np.where(np.isfinite(errors), errors, np.inf)


def nrmse(y_true: object, y_pred: object, *, scale: object = None) -> float:
    """Normalised root-mean-square error sqrt(mean_{t,d} (y − ŷ)² / σ_d²).

    Parameters
    ----------
    y_true, y_pred : array (T, d) or (T,)
    scale : float or array (d,), optional
        σ_d; default the standard deviation of ``y_true`` per feature.

    Returns
    -------
    float
        0 for a perfect forecast, 1 for each feature's mean; ``inf`` if ``y_pred`` is not finite.
    """
    errors = error_curve(y_true, y_pred, scale=scale)
    return float(np.sqrt(np.mean(errors**2)))


def valid_prediction_time(
    y_true: object,
    y_pred: object,
    *,
    threshold: float = VPT_THRESHOLD,
    dt: float = 1.0,
    lyapunov_exponent: float = 1.0,
    scale: object = None,
) -> float:
    """Time before the normalised error first exceeds ``threshold``: k · dt · λ.

    ``y_pred[i]`` is the forecast i + 1 steps after the last true value seen, and k is the number of
    leading steps whose error :func:`error_curve` is at most ``threshold`` (all T if none exceeds it).

    Parameters
    ----------
    y_true, y_pred : array (T, d) or (T,)
    threshold : float, default 0.4
    dt : float, default 1.0
        Time between steps.
    lyapunov_exponent : float, default 1.0
        λ; with a system's largest exponent (Lorenz-63: 0.9056) the result is in Lyapunov times.
    scale : float or array (d,), optional
        σ_d; default the standard deviation of ``y_true`` per feature.

    Returns
    -------
    float
    """
    threshold = check_real(threshold, "threshold", minimum=0.0, strict=True)
    dt = check_real(dt, "dt", minimum=0.0, strict=True)
    lyapunov_exponent = check_real(lyapunov_exponent, "lyapunov_exponent", minimum=0.0, strict=True)
    exceeded = np.flatnonzero(error_curve(y_true, y_pred, scale=scale) > threshold)
    n_valid = exceeded[0] if exceeded.size else len(np.asarray(y_true))
    return float(n_valid * dt * lyapunov_exponent)
