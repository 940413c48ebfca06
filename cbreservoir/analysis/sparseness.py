"""Sparseness of non-negative population codes (e.g. the granule layer): Treves–Rolls and coding level.

Activity is ``(samples, units)`` of non-negative rates (ReLU outputs).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.analysis import treves_rolls_sparseness, coding_level
>>> one_hot = np.eye(4)
>>> treves_rolls_sparseness(one_hot)  # population measure of each sample: 1 / units
array([0.25, 0.25, 0.25, 0.25])
>>> coding_level(one_hot)
0.25
"""

from __future__ import annotations

import numpy as np

from cbreservoir.analysis._checks import as_float_array

_KINDS = ("population", "lifetime")


def _nonnegative_activity(activity: object) -> np.ndarray:
    array = as_float_array(activity, "activity", (2,))
    if np.any(array < 0):
        raise ValueError(f"activity must be non-negative rates, got a minimum of {array.min():.4g}")
    return array


def treves_rolls_sparseness(activity: object, kind: str = "population") -> np.ndarray:
    """Treves–Rolls measure ``a = (mean r)² / mean(r²)`` of a non-negative code.

    ``a`` is 1/N for a one-hot code over N entries and 1 for a uniform code: smaller is sparser.

    Parameters
    ----------
    activity : array-like (samples, units)
        Non-negative rates.
    kind : {"population", "lifetime"}
        ``"population"``: over the units, for each sample (how many units one input activates);
        ``"lifetime"``: over the samples, for each unit (how selective each unit is).

    Returns
    -------
    ndarray
        (samples,) for ``"population"``, (units,) for ``"lifetime"``; NaN where all rates are zero.

    Raises
    ------
    ValueError
        If ``activity`` is not 2-D, holds negative values or NaN/inf, or ``kind`` is unknown.
    """
    if kind not in _KINDS:
        raise ValueError(f"kind must be one of {_KINDS}, got {kind!r}")
    array = _nonnegative_activity(activity)
    axis = 1 if kind == "population" else 0
    mean_rate = array.mean(axis=axis)
    mean_square = np.mean(array**2, axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(mean_square > 0, mean_rate**2 / mean_square, np.nan)


def coding_level(activity: object, threshold: float = 0.0) -> float:
    """Fraction of (sample, unit) entries whose rate exceeds ``threshold``.

    Parameters
    ----------
    activity : array-like (samples, units)
        Non-negative rates.
    threshold : float
        A unit counts as active when its rate is strictly greater than this.

    Returns
    -------
    float
        The mean fraction of active units per sample, in [0, 1].
    """
    return float(np.mean(_nonnegative_activity(activity) > threshold))
