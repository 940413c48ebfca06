"""Ridge regression maths: streamed sufficient statistics and the closed-form solvers.

Fitting solves ``min_W ||X W + 1 b − Y||² + ridge ||W||²``. :class:`GramStatistics` accumulates the
statistics chunk by chunk, *centred per chunk* and merged with the pairwise (Chan et al.) update, ``XᵀX``
as a BLAS ``syrk`` (float64, or float32 chunks summed in float64: ``gram_dtype``). The solvers:
:func:`cholesky_solve` (None when not trustworthy), :func:`eigh_solve` (minimum norm), :func:`dual_solve`
(fewer rows than inputs) and :func:`lstsq_solve` (from the rows). The leave-one-out selection of the
penalty is in :mod:`cbreservoir.numerics.ridge_loo`. The :class:`~cbreservoir.nodes.Ridge` node, the
feedforward trainer and the io format use them.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable

import numpy as np
import scipy.linalg
from scipy.linalg import blas, lapack

from cbreservoir.utils.resources import array_bytes, check_memory

__all__ = [
    "CHUNK_ROWS",
    "FLOAT32_GRAM_MIN_RCOND",
    "GRAM_DTYPES",
    "STATISTICS_STATE_KEYS",
    "GramStatistics",
    "cholesky_solve",
    "dual_solve",
    "eigh_solve",
    "lstsq_solve",
]

#: Rows per chunk when accumulating statistics (the centred chunk is a reused buffer of this many rows).
CHUNK_ROWS = 4096

#: Gram matrix precisions of :class:`Ridge` (``gram_dtype``).
GRAM_DTYPES = ("float64", "float32")

#: Below this reciprocal condition number (LAPACK estimate, regularised system) a float32 Gram matrix
#: is not trusted. Measured by ``benchmarks/float32_gram.py`` on reservoir states, granule codes and
#: well-conditioned features, the float32 rounding moved the weights by (0.2–6)e-9 / rcond relative,
#: so by at most about 6e-4 at this threshold.
FLOAT32_GRAM_MIN_RCOND = 1e-5

#: Keys of the ridge statistics' ``state_dict`` (the statistics of a streamed fit, for checkpoints).
STATISTICS_STATE_KEYS = ("count", "mean_x", "mean_y", "products", "centered", "gram_dtype")


class GramStatistics:
    """Running count, means and centred cross-products of (x, y) rows, merged chunk by chunk.

    ``products`` is the (d + k, d + k) cross-product matrix of the rows ``[x, y]``: one ``syrk`` per
    chunk gives ``xᵀx`` and ``xᵀy`` together. Only its upper triangle is accumulated. With
    ``centered=False`` the means stay zero and the products are raw (no-bias fit). With
    ``gram_dtype="float32"`` each (float64-centred) chunk is rounded to float32 for its ``syrk``; the
    chunk products are still summed in float64.
    """

    def __init__(self, n_inputs: int, n_outputs: int, centered: bool, gram_dtype: str = "float64"):
        width = n_inputs + n_outputs
        check_memory(array_bytes((width, width + CHUNK_ROWS)), f"the ridge statistics of {n_inputs} inputs")
        self.centered = centered
        self.gram_dtype = gram_dtype
        self.count = 0
        self.n_inputs = n_inputs
        self.mean_x = np.zeros(n_inputs)
        self.mean_y = np.zeros(n_outputs)
        self.products = np.zeros((n_inputs + n_outputs, n_inputs + n_outputs), order="F")

    @property
    def xy(self) -> np.ndarray:
        """Centred ``xᵀy`` (d, k)."""
        return self.products[: self.n_inputs, self.n_inputs :]

    def gram(self) -> np.ndarray:
        """The full symmetric centred ``xᵀx`` (d, d)."""
        upper = np.triu(self.products[: self.n_inputs, : self.n_inputs])
        return upper + np.triu(upper, 1).T

    def update(self, blocks: Iterable[tuple[np.ndarray, np.ndarray]]) -> None:
        """Add row blocks ``(x (n_i, d), y (n_i, k))``, gathered into chunks of ``CHUNK_ROWS`` rows.

        Rows of consecutive blocks (e.g. many short series) share a chunk, so every ``syrk`` is large.
        """
        buffer = np.empty((CHUNK_ROWS, len(self.products)))
        narrow = np.empty(buffer.shape, np.float32) if self.gram_dtype == "float32" else None
        filled = 0
        for x, y in blocks:
            start = 0
            while start < len(x):
                take = min(CHUNK_ROWS - filled, len(x) - start)
                buffer[filled : filled + take, : self.n_inputs] = x[start : start + take]
                buffer[filled : filled + take, self.n_inputs :] = y[start : start + take]
                filled, start = filled + take, start + take
                if filled == CHUNK_ROWS:
                    self._add_chunk(buffer, narrow)
                    filled = 0
        if filled:
            self._add_chunk(buffer[:filled], narrow)

    def _add_chunk(self, rows: np.ndarray, narrow: np.ndarray | None) -> None:
        """Add the rows ``[x, y]`` of one chunk (centred in place first when ``centered``).

        ``narrow`` is a float32 buffer of at least ``len(rows)`` rows for a float32 ``syrk``, or None.
        """
        if self.centered:
            means = rows.mean(axis=0)
            rows -= means
        else:
            means = np.concatenate([self.mean_x, self.mean_y])
        # [x, y]ᵀ[x, y] as syrk on the Fortran view of the C-ordered rows, accumulated in place
        if narrow is None:
            self.products = blas.dsyrk(1.0, rows.T, c=self.products, beta=1.0, trans=0, overwrite_c=True)
        else:
            chunk = narrow[: len(rows)]
            np.copyto(chunk, rows, casting="same_kind")
            self.products += blas.ssyrk(1.0, chunk.T, trans=0)
        self._add_moments(len(rows), means[: self.n_inputs], means[self.n_inputs :])

    def _add_moments(self, n: int, mean_x: np.ndarray, mean_y: np.ndarray) -> None:
        """Account for ``n`` rows with means ``mean_x``, ``mean_y`` whose centred products were added."""
        total = self.count + n
        if self.centered:
            delta = np.concatenate([mean_x - self.mean_x, mean_y - self.mean_y])
            # rank-one update of the upper triangle in place (syr), as the chunk products are
            self.products = blas.dsyr(self.count * n / total, delta, a=self.products, overwrite_a=True)
            self.mean_x += delta[: self.n_inputs] * (n / total)
            self.mean_y += delta[self.n_inputs :] * (n / total)
        self.count = total

    def merge(self, other: GramStatistics) -> None:
        """Add the statistics of other rows (pairwise update of Chan, Golub & LeVeque)."""
        if other.gram_dtype == "float32":  # the merged products are only as accurate as the coarser part
            self.gram_dtype = "float32"
        self.products += other.products
        self._add_moments(other.count, other.mean_x, other.mean_y)

    @property
    def min_rcond(self) -> float:
        """The smallest reciprocal condition number trusted for the precision of the products."""
        return FLOAT32_GRAM_MIN_RCOND if self.gram_dtype == "float32" else 0.0

    def intercept(self, weights: np.ndarray) -> np.ndarray:
        """The bias (k,) that goes with ``weights`` (d, k): ``mean_y - mean_x · weights``."""
        return self.mean_y - self.mean_x @ weights

    def solve(self, ridge: float) -> tuple[np.ndarray, np.ndarray]:
        """Ridge readout of the rows added so far: :func:`cholesky_solve`, else :func:`eigh_solve`.

        The minimum-norm (eigendecomposition) solution is used when the regularised Gram matrix is
        numerically singular, or too ill-conditioned for a float32 Gram matrix (with a warning then).

        Parameters
        ----------
        ridge : float
            Non-negative penalty on the weights (never on the bias).

        Returns
        -------
        weights : ndarray (d, k)
        bias : ndarray (k,)
            Zero when not ``centered``.
        """
        gram = self.gram()
        weights = cholesky_solve(gram, self.xy, ridge=ridge, min_rcond=self.min_rcond)
        if weights is None:
            if self.gram_dtype == "float32":
                warnings.warn(
                    "Ridge: the streamed float32 Gram matrix is too ill-conditioned to trust (reciprocal "
                    f"condition below {FLOAT32_GRAM_MIN_RCOND:g}); the weights may be inaccurate. Stream "
                    "again with gram_dtype='float64'.",
                    RuntimeWarning,
                    stacklevel=4,  # solve < Ridge._solve_pending < Ridge.Wout < the caller
                )
            weights = eigh_solve(gram, self.xy, ridge=ridge)
        return weights, self.intercept(weights)

    def state_dict(self) -> dict[str, object]:
        """The statistics as plain values and float64 arrays (copies), for checkpoints.

        Returns
        -------
        dict
            ``count`` (int), ``mean_x`` (d,), ``mean_y`` (k,), ``products`` (d + k, d + k; the upper
            triangle holds the centred cross-products), ``centered`` (bool), ``gram_dtype`` (str).
        """
        return {
            "count": self.count,
            "mean_x": self.mean_x.copy(),
            "mean_y": self.mean_y.copy(),
            "products": np.array(self.products, order="C"),
            "centered": self.centered,
            "gram_dtype": self.gram_dtype,
        }

    def load_state_dict(self, state: dict[str, object]) -> None:
        """Restore a :meth:`state_dict` (its arrays may be given as any array-likes, e.g. lists).

        Raises
        ------
        ValueError
            If ``state`` does not have exactly the keys of :meth:`state_dict` (e.g. another format),
            or its shapes, ``centered`` or ``gram_dtype`` do not fit these statistics.
        """
        if not isinstance(state, dict) or set(state) != set(STATISTICS_STATE_KEYS):
            received = sorted(state, key=str) if isinstance(state, dict) else type(state).__name__
            raise ValueError(
                f"ridge statistics state must have the keys {sorted(STATISTICS_STATE_KEYS)}; got {received}"
            )
        width = len(self.products)
        expected = {"mean_x": self.mean_x.shape, "mean_y": self.mean_y.shape, "products": (width, width)}
        arrays = {key: np.array(state[key], dtype=np.float64, order="F") for key in expected}
        for key, array in arrays.items():
            if array.shape != expected[key]:
                raise ValueError(f"ridge statistics {key} must have shape {expected[key]}; got {array.shape}")
        count = int(state["count"])
        if count < 0 or bool(state["centered"]) != self.centered or state["gram_dtype"] not in GRAM_DTYPES:
            raise ValueError(
                f"ridge statistics state must have count >= 0, centered={self.centered} and gram_dtype in "
                f"{list(GRAM_DTYPES)}; got count={count}, centered={state['centered']}, "
                f"gram_dtype={state['gram_dtype']!r}"
            )
        self.count, self.gram_dtype = count, str(state["gram_dtype"])
        self.mean_x, self.mean_y, self.products = arrays["mean_x"], arrays["mean_y"], arrays["products"]


def cholesky_solve(
    gram: np.ndarray, cross: np.ndarray, *, ridge: float, min_rcond: float = 0.0
) -> np.ndarray | None:
    """Solve ``(gram + ridge·I) W = cross`` by Cholesky, or return None when that is not trustworthy.

    None when the factorisation fails or LAPACK's reciprocal condition estimate (``pocon``) of the
    regularised matrix is below ``max(d·eps, min_rcond)`` (numerically singular in float64, or too
    ill-conditioned for the precision ``gram`` was computed in).

    Parameters
    ----------
    gram : ndarray (d, d)
        Symmetric positive semi-definite.
    cross : ndarray (d, k)
    ridge : float
        Non-negative penalty.
    min_rcond : float, default 0
        Smallest trusted reciprocal condition number beyond float64's ``d·eps``.

    Returns
    -------
    ndarray (d, k) or None
    """
    system = gram + ridge * np.eye(len(gram))
    factor, info = lapack.dpotrf(system, lower=False, clean=True)
    if info != 0:
        return None
    rcond, _ = lapack.dpocon(factor, np.abs(system).sum(axis=0).max())
    if rcond < max(len(gram) * np.finfo(np.float64).eps, min_rcond):
        return None
    return scipy.linalg.cho_solve((factor, False), cross, check_finite=False)


def eigh_solve(gram: np.ndarray, cross: np.ndarray, *, ridge: float) -> np.ndarray:
    """Minimum-norm solution of ``(gram + ridge·I) W = cross`` by a truncated eigendecomposition.

    Eigen-directions of ``gram`` below its float64 noise floor (``λ_max·d·eps``) are dropped,
    as ``lstsq`` drops negligible singular values. Arguments as :func:`cholesky_solve`.
    """
    eigenvalues, eigenvectors = np.linalg.eigh(gram)
    floor = max(eigenvalues.max(initial=0.0), 0.0) * len(gram) * np.finfo(np.float64).eps
    basis = eigenvectors[:, eigenvalues > floor]
    return basis @ ((basis.T @ cross) / (eigenvalues[eigenvalues > floor] + ridge)[:, None])


def dual_solve(
    x: np.ndarray, y: np.ndarray, *, ridge: float, fit_bias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression in its dual (kernel) form, for fewer rows than inputs: an (n, n) solve, not (d, d).

    ``W = Xcᵀ (Xc Xcᵀ + ridge·I)⁻¹ Yc`` with the rows centred when ``fit_bias`` (no penalty on the
    bias), the same weights as the normal equations ``(Xcᵀ Xc + ridge·I) W = Xcᵀ Yc`` for ``ridge > 0``.

    Parameters
    ----------
    x : ndarray (n, d)
    y : ndarray (n, k)
    ridge : float
        Positive penalty (the kernel matrix of centred rows is singular without one).
    fit_bias : bool

    Returns
    -------
    weights : ndarray (d, k)
    bias : ndarray (k,)
    """
    if not ridge > 0:
        raise ValueError(f"the dual ridge solve needs a positive ridge; got {ridge!r}")
    mean_x = x.mean(axis=0) if fit_bias else np.zeros(x.shape[1])
    mean_y = y.mean(axis=0) if fit_bias else np.zeros(y.shape[1])
    centred_x, centred_y = x - mean_x, y - mean_y
    kernel = centred_x @ centred_x.T
    kernel.flat[:: len(kernel) + 1] += ridge
    coefficients = scipy.linalg.solve(kernel, centred_y, assume_a="pos", check_finite=False)
    weights = centred_x.T @ coefficients
    return weights, mean_y - mean_x @ weights


def lstsq_solve(
    x: np.ndarray, y: np.ndarray, *, ridge: float, fit_bias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Ridge regression straight from the rows, by ``numpy.linalg.lstsq`` (SVD; no squared condition).

    The penalty enters as extra rows ``sqrt(ridge)·I`` (none on the bias).

    Parameters
    ----------
    x : ndarray (n, d)
    y : ndarray (n, k)
    ridge : float
    fit_bias : bool

    Returns
    -------
    weights : ndarray (d, k)
    bias : ndarray (k,)
    """
    n_inputs = x.shape[1]
    design = np.hstack([x, np.ones((len(x), 1))]) if fit_bias else x
    targets = y
    if ridge > 0:
        penalty = np.sqrt(ridge) * np.eye(n_inputs, design.shape[1])
        design = np.vstack([design, penalty])
        targets = np.vstack([y, np.zeros((n_inputs, y.shape[1]))])
    solution = np.linalg.lstsq(design, targets, rcond=None)[0]
    bias = solution[n_inputs] if fit_bias else np.zeros(y.shape[1])
    return solution[:n_inputs], bias
