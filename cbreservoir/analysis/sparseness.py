"""Sparseness of non-negative population codes (e.g. the granule layer): Treves–Rolls and coding level.

Activity is ``(samples, units)`` of non-negative rates (ReLU outputs). Two related quantities:

* the activity ratio ``a = ⟨r⟩² / ⟨r²⟩`` (Treves & Rolls): 1/n for a one-hot code over n entries, 1 for a
  uniform one — smaller is sparser;
* the normalised Treves–Rolls sparseness ``S = (1 − a) / (1 − 1/n)``, the study's measure: 1 for a
  one-hot code, 0 for a uniform one — larger is sparser.

Examples
--------
>>> import numpy as np
>>> from cbreservoir.analysis import activity_ratio, coding_level, treves_rolls_sparseness
>>> one_hot = np.eye(4)
>>> treves_rolls_sparseness(one_hot)  # population sparseness of each sample
array([1., 1., 1., 1.])
>>> activity_ratio(one_hot)
array([0.25, 0.25, 0.25, 0.25])
>>> treves_rolls_sparseness([[1.0, 1.0, 0.0, 0.0]])  # a = 1/2, S = (1 - 1/2) / (1 - 1/4)
array([0.66666667])
>>> coding_level(one_hot)
0.25
"""

from __future__ import annotations

import numpy as np

from cbreservoir.utils.checks import as_float_array, check_choice

_KINDS = ("population", "lifetime")


def _nonnegative_activity(activity: object) -> np.ndarray:
    array = as_float_array(activity, "activity", dtype=np.float64, ndims=(2,), finite=True)
    if np.any(array < 0):
        raise ValueError(f"activity must be non-negative rates, got a minimum of {array.min():.4g}")
    return array


def _checked(activity: object, kind: str) -> tuple[np.ndarray, int]:
    """The validated activity and the axis the measure averages over."""
    check_choice(kind, "kind", allowed=_KINDS)
    return _nonnegative_activity(activity), 1 if kind == "population" else 0


def _ratio(array: np.ndarray, axis: int) -> np.ndarray:
    """``⟨r⟩² / ⟨r²⟩`` along ``axis``; NaN where all rates are zero.

    The rates are divided by their peak first (``a`` does not depend on the scale), so tiny rates
    whose squares would underflow still give their ratio.
    """
    peak = array.max(axis=axis, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = array / peak  # NaN for a silent sample or unit
    return np.mean(scaled, axis=axis) ** 2 / np.mean(scaled**2, axis=axis)


def activity_ratio(activity: object, kind: str = "population") -> np.ndarray:
    """Treves–Rolls activity ratio ``a = (mean r)² / mean(r²)`` of a non-negative code.

    ``a`` is 1/n for a one-hot code over n entries and 1 for a uniform code: smaller is sparser.
    :func:`treves_rolls_sparseness` rescales it to the study's S in [0, 1].

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
        (samples,) for ``"population"``, (units,) for ``"lifetime"``, in [1/n, 1]; NaN where all
        rates are zero (a silent sample or unit has no ratio).

    Raises
    ------
    ValueError
        If ``activity`` is not 2-D, holds negative values or NaN/inf, or ``kind`` is unknown.
    """
    array, axis = _checked(activity, kind)
    return _ratio(array, axis)


def treves_rolls_sparseness(activity: object, kind: str = "population") -> np.ndarray:
    """Normalised Treves–Rolls sparseness ``S = (1 − a) / (1 − 1/n)`` of a non-negative code.

    ``a`` is the :func:`activity_ratio` and n the number of entries it averages over (units for
    ``"population"``, samples for ``"lifetime"``). S is 1 for a one-hot code and 0 for a uniform one:
    larger is sparser. For r = [1, 1, 0, 0]: a = 1/2 and S = (1 − 1/2) / (1 − 1/4) = 2/3.

    Parameters
    ----------
    activity : array-like (samples, units)
        Non-negative rates; at least 2 entries along the averaged axis (S is undefined for n = 1).
    kind : {"population", "lifetime"}
        As :func:`activity_ratio`.

    Returns
    -------
    ndarray
        (samples,) for ``"population"``, (units,) for ``"lifetime"``, in [0, 1]; NaN where all rates
        are zero (a silent sample or unit is neither sparse nor dense).

    Raises
    ------
    ValueError
        As :func:`activity_ratio`, and when the averaged axis has fewer than 2 entries.
    """
    array, axis = _checked(activity, kind)
    n = array.shape[axis]
    if n < 2:
        over = "units" if kind == "population" else "samples"
        raise ValueError(f"{kind} sparseness needs at least 2 {over}; got activity of shape {array.shape}")
    return (1.0 - _ratio(array, axis)) / (1.0 - 1.0 / n)


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
