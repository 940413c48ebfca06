"""Ridge penalty chosen inside ``fit`` by efficient leave-one-out cross-validation.

For a ridge fit with an unpenalised intercept on rows ``Z`` (n, p) and targets ``Y`` (n, k), the fitted
values are a linear smoother ``Ŷ = H Y`` with ``H = 11ᵀ/n + Zc (ZcᵀZc + αI)⁻¹ Zcᵀ`` (``Zc`` = ``Z`` with
centred columns, orthogonal to ``1``), and the leave-one-out residual of row i is exactly
``(Y_i − Ŷ_i) / (1 − H_ii)``. With the eigen-decomposition ``Zc Zcᵀ = U diag(s²) Uᵀ`` (from the smaller
of the two Gram matrices) every penalty costs O(n · rank · k): one decomposition serves the whole grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import scipy.linalg

__all__ = ["check_alphas", "gram_loo_errors", "loo_errors", "select_alpha"]

#: Eigenvalues below this fraction of the largest are treated as zero (rank-deficient rows).
_RANK_TOL = 1e-12


def check_alphas(alpha: object, owner: str) -> tuple[float, ...]:
    """Validate an ``alpha`` parameter: a penalty >= 0, or a non-empty tuple/list of penalties > 0."""
    values = alpha if isinstance(alpha, (tuple, list)) else (alpha,)
    if not values or any(isinstance(a, bool) or not isinstance(a, (int, float, np.floating)) for a in values):
        raise TypeError(
            f"{owner}: alpha (the ridge penalty) must be a number >= 0 or a non-empty tuple of numbers > 0; "
            f"got {alpha!r}"
        )
    floats = tuple(float(a) for a in values)
    minimum_ok = all(a > 0 for a in floats) if len(floats) > 1 else floats[0] >= 0
    if not all(np.isfinite(floats)) or not minimum_ok:
        raise ValueError(
            f"{owner}: alpha (the ridge penalty) must be a finite number >= 0 or a tuple of finite numbers "
            f"> 0; got {alpha!r}"
        )
    return floats


def _spectrum(gram: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Eigenvectors (n, r) and eigenvalues (r,) of a positive semi-definite ``gram`` (n, n), rank r."""
    squares, vectors = scipy.linalg.eigh(gram)
    keep = squares > _RANK_TOL * max(squares.max(), 0.0)
    return vectors[:, keep], squares[keep]


def _centred_spectrum(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``U`` (n, r) and ``s²`` (r,) of the centred rows, ``Zc Zcᵀ = U diag(s²) Uᵀ`` (rank r)."""
    centred = rows - rows.mean(axis=0)
    n, p = centred.shape
    if n <= p:
        return _spectrum(centred @ centred.T)
    vectors, squares = _spectrum(centred.T @ centred)
    return centred @ vectors / np.sqrt(squares), squares


def _loo_from_spectrum(
    basis: np.ndarray, squares: np.ndarray, targets: np.ndarray, alphas: Sequence[float]
) -> np.ndarray:
    n = len(basis)
    centred_targets = targets - targets.mean(axis=0)
    projected = basis.T @ centred_targets  # (r, k)
    errors = []
    for alpha in alphas:
        shrink = squares / (squares + alpha)
        fitted = basis @ (shrink[:, None] * projected)  # Ŷ − mean(Y)
        leverage = (basis**2) @ shrink + 1.0 / n
        residual = (centred_targets - fitted) / (1.0 - leverage)[:, None]
        errors.append(float(np.mean(residual**2)))
    return np.asarray(errors)


def loo_errors(rows: np.ndarray, targets: np.ndarray, alphas: Sequence[float]) -> np.ndarray:
    """Mean squared leave-one-out error of a ridge fit with intercept, for every penalty.

    Parameters
    ----------
    rows : ndarray (n, p)
        Readout inputs, n >= 2.
    targets : ndarray (n, k)
    alphas : sequence of float > 0

    Returns
    -------
    ndarray (len(alphas),)
        ``mean_{i, j} ((Y_ij − Ŷ_ij) / (1 − H_ii))²``.
    """
    return _loo_from_spectrum(*_centred_spectrum(rows), targets, alphas)


def gram_loo_errors(gram: np.ndarray, targets: np.ndarray, alphas: Sequence[float]) -> np.ndarray:
    """:func:`loo_errors` from the Gram matrix ``Zc Zcᵀ`` (n, n) of the centred rows instead of the rows.

    The Gram matrix of several column blocks is the sum of theirs, so candidate feature sets made of
    blocks are scored without building their rows.
    """
    return _loo_from_spectrum(*_spectrum(gram), targets, alphas)


def select_alpha(rows: np.ndarray, targets: np.ndarray, alphas: Sequence[float]) -> float:
    """The penalty of ``alphas`` with the smallest leave-one-out error (ties: the largest penalty)."""
    errors = loo_errors(rows, targets, alphas)
    order = np.argsort(alphas)[::-1]  # largest first, so that argmin breaks ties towards it
    return float(np.asarray(alphas)[order][np.argmin(errors[order])])
