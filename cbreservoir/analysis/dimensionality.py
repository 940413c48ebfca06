"""Dimensionality of population activity: PCA spectrum, d90/d95 and the participation ratio.

Activity is an array of shape ``(samples, units)`` (time steps and trials flattened into samples,
see :func:`cbreservoir.analysis.task_activity`). The study's measures of a centred PCA with eigenvalues
λ_1 >= λ_2 >= ...: d90 and d95, the fewest components that explain 90 % and 95 % of the variance,
d95 / units, and the participation ratio PR = (Σλ)² / Σλ².

Examples
--------
>>> import numpy as np
>>> from cbreservoir.analysis import participation_ratio, pca_dimensions
>>> activity = np.random.default_rng(0).standard_normal((5000, 10))
>>> round(participation_ratio(activity))
10
>>> pca_dimensions(activity, fractions=(0.9,))
{0.9: 9}
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from cbreservoir.utils.checks import as_float_array, check_fraction, check_min_length, check_positive_int


def pca_spectrum(activity: object) -> np.ndarray:
    """Variances along the principal components of ``activity``, largest first.

    Parameters
    ----------
    activity : array-like (samples, units)

    Returns
    -------
    ndarray (min(samples, units),)
        Eigenvalues of the sample covariance matrix (ddof=1), sorted in decreasing order.

    Raises
    ------
    ValueError
        If ``activity`` is not 2-D, has fewer than 2 samples or holds NaN/inf.
    """
    array = as_float_array(activity, "activity", dtype=np.float64, ndims=(2,), finite=True)
    check_min_length(array, 0, 2, "activity", "samples (rows)")
    centred = array - array.mean(axis=0)
    singular_values = np.linalg.svd(centred, compute_uv=False)
    return singular_values**2 / (array.shape[0] - 1)


def _participation_ratio(eigenvalues: np.ndarray) -> float:
    total = eigenvalues.sum()
    return float(total**2 / np.sum(eigenvalues**2)) if total > 0.0 else 0.0


def _components_for(eigenvalues: np.ndarray, fractions: tuple[float, ...]) -> dict[float, int]:
    total = eigenvalues.sum()
    if total <= 0.0:
        return dict.fromkeys(fractions, 0)
    explained = np.cumsum(eigenvalues) / total
    # a small tolerance so that e.g. rank-1 data explains fraction 1.0 with one component
    return {
        fraction: int(min(np.searchsorted(explained, fraction - 1e-12) + 1, explained.size))
        for fraction in fractions
    }


def participation_ratio(activity: object) -> float:
    """Participation ratio ``PR = (Σλ)² / Σλ²`` of the PCA eigenvalues λ.

    PR is ≈ d for isotropic data spanning d dimensions and 1 for rank-1 data.

    Parameters
    ----------
    activity : array-like (samples, units)

    Returns
    -------
    float
        The participation ratio, between 1 and ``units``; 0.0 for activity without variance
        (a silent or constant population).
    """
    return _participation_ratio(pca_spectrum(activity))


def pca_dimensions(activity: object, fractions: Sequence[float] = (0.9, 0.95)) -> dict[float, int]:
    """Number of principal components needed to explain each fraction of the variance.

    Parameters
    ----------
    activity : array-like (samples, units)
    fractions : sequence of float in (0, 1]
        Fractions of the total variance, e.g. ``(0.9, 0.95)`` for d90 and d95.

    Returns
    -------
    dict float -> int
        ``{fraction: smallest k whose first k components explain >= fraction of the variance}``;
        0 for every fraction when the activity has no variance.

    Raises
    ------
    ValueError
        If a fraction is outside (0, 1].
    """
    fractions = tuple(check_fraction(fraction, f"fractions[{i}]") for i, fraction in enumerate(fractions))
    return _components_for(pca_spectrum(activity), fractions)


def spectrum_dimensions(eigenvalues: object, *, units: int) -> dict[str, Any]:
    """The study's dimensionality measures of a PCA spectrum (:func:`pca_spectrum`).

    Parameters
    ----------
    eigenvalues : array-like (components,)
        PCA variances, largest first.
    units : int
        Units of the population (the denominator of ``d95_per_unit``).

    Returns
    -------
    dict
        ``{"d90": int, "d95": int, "d95_per_unit": d95 / units, "participation_ratio": (Σλ)² / Σλ²,
        "units": units}``; d90 = d95 = PR = 0 for a population without variance.
    """
    values = as_float_array(eigenvalues, "eigenvalues", dtype=np.float64, ndims=(1,), finite=True)
    check_positive_int(units, "units")
    dims = _components_for(values, (0.9, 0.95))
    return {
        "d90": dims[0.9],
        "d95": dims[0.95],
        "d95_per_unit": dims[0.95] / units,
        "participation_ratio": _participation_ratio(values),
        "units": int(units),
    }
