"""Closed-form ridge readout as a reservoirpy node: fast, streamable and numerically robust.

Fitting solves ``min_W ||X W + 1 b − Y||² + ridge ||W||²`` from sufficient statistics that are
accumulated chunk by chunk (so ``partial_fit`` can stream data that never sits in memory at once):

* the statistics are *centred per chunk* and merged with the pairwise (Chan et al.) update, so large
  state offsets do not cancel catastrophically (reservoirpy subtracts ``n·mean·meanᵀ`` from a raw
  ``XᵀX`` instead);
* ``XᵀX`` is a BLAS ``syrk`` (half the work of a general product), in float64 by default. With
  ``gram_dtype="float32"`` each centred chunk's product is an ``ssyrk`` (about twice as fast), summed
  in float64; a fit whose float32 Gram matrix is too ill-conditioned to trust (reciprocal condition
  below :data:`FLOAT32_GRAM_MIN_RCOND`: typical reservoir states with a small ``ridge``) is redone in
  float64 (``fit``) or warned about (streaming);
* the system is solved by Cholesky when it is well conditioned. When the regularised Gram matrix is
  numerically singular (nearly collinear states, tiny ``ridge``), ``fit`` recomputes the weights from
  the rows with ``numpy.linalg.lstsq``; streamed statistics fall back to a truncated
  eigendecomposition (the minimum-norm solution).

Targets
-------
* per step: ``Y`` in the layout of ``X`` (``(T, k)``, ``(S, T, k)`` or a list of ``(T_i, k)``);
  ``warmup`` discards the first steps of every series;
* per series (sequence-to-vector): ``X`` ``(S, T, d)`` or a list, ``Y`` ``(S,)`` or ``(S, k)``: the fit
  reads the *final* step of each series. :func:`cbreservoir.graph.predict_final` returns one prediction
  per series.
  Inside a reservoirpy ``Model`` pass ``Y`` as ``(S, k)`` (reservoirpy rejects 1-D targets).

Examples
--------
>>> import numpy as np
>>> from cbreservoir.nodes import Ridge
>>> rng = np.random.default_rng(0)
>>> X = rng.normal(size=(500, 4)); Y = X @ [[1.0], [2.0], [0.0], [-1.0]] + 3.0
>>> readout = Ridge(ridge=1e-8).fit(X, Y)
>>> np.round(readout.Wout.ravel(), 6).tolist(), np.round(readout.bias, 6).tolist()
([1.0, 2.0, 0.0, -1.0], [3.0])
>>> for start in range(0, 500, 100):                    # streaming: same result, chunk by chunk
...     _ = readout.partial_fit(X[start:start + 100], Y[start:start + 100], reset=start == 0)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterable, Sequence

import numpy as np
import scipy.linalg
from reservoirpy.node import TrainableNode
from scipy.linalg import blas, lapack

from cbreservoir.nodes._base import (
    LinearReadoutMixin,
    ParameterStrMixin,
    stacked_training_rows,
    training_rows,
)
from cbreservoir.nodes.model import ValidatedStepMixin
from cbreservoir.utils.checks import (
    Series,
    Targets,
    as_float_array,
    check_choice,
    check_finite,
    check_n_jobs,
    check_positive_int,
    check_real,
    check_series,
    check_targets,
    check_warmup,
    resolve_input_dim,
)
from cbreservoir.utils.resources import array_bytes, check_memory

__all__ = ["Ridge"]

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


class _Statistics:
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

    def merge(self, other: _Statistics) -> None:
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


class Ridge(ParameterStrMixin, LinearReadoutMixin, ValidatedStepMixin, TrainableNode):
    """Closed-form ridge regression readout, a reservoirpy ``TrainableNode``.

    The constructor takes reservoirpy's ``Ridge`` arguments, in its order and with its defaults, then
    ``gram_dtype``. Target rows holding NaN are "not supervised here" and left out of the fit, as
    reservoirpy does (see :meth:`fit`).

    Parameters
    ----------
    ridge : float, default 0.0
        L2 penalty λ (on ``Wout`` only, never on the bias); 0.0 as reservoirpy.
    fit_bias : bool, default True
        Fit the bias ``b`` (by centring the statistics).
    Wout : array (input_dim, output_dim) or callable, optional
        Given weights (the node can run without fitting), or an initializer called at initialisation
        as reservoirpy calls it, ``Wout(input_dim, output_dim)``.
    bias : array (output_dim,) or callable, optional
        Given bias, or an initializer called as ``bias(output_dim)``.
    input_dim, output_dim : int, optional
    name : str, optional
    gram_dtype : {"float64", "float32"}, default "float64"
        Precision of the ``XᵀX`` products. ``"float32"`` makes them about twice as fast (the chunks
        are centred in float64 first and the products summed in float64) at float32 accuracy. It pays
        off for well-conditioned features or a large ``ridge``: when the regularised system is too
        ill-conditioned (:data:`FLOAT32_GRAM_MIN_RCOND`; typical reservoir states with a small
        ``ridge``), :meth:`fit` warns and fits again in float64, and streamed fits warn.

    Attributes
    ----------
    Wout : ndarray (input_dim, output_dim)
    bias : ndarray (output_dim,)
    """

    def __init__(
        self,
        ridge: float = 0.0,
        fit_bias: bool = True,
        Wout: object | None = None,
        bias: object | None = None,
        input_dim: int | None = None,
        output_dim: int | None = None,
        name: str | None = None,
        *,
        gram_dtype: str = "float64",
    ):
        self.ridge = check_real(ridge, "ridge", minimum=0.0)
        self.fit_bias = bool(fit_bias)
        check_choice(gram_dtype, "gram_dtype", allowed=GRAM_DTYPES)
        self.gram_dtype = gram_dtype
        self.name = name
        self.input_dim = None if input_dim is None else check_positive_int(input_dim, "input_dim")
        self.output_dim = None if output_dim is None else check_positive_int(output_dim, "output_dim")
        self._statistics: _Statistics | None = None
        self._solved = True
        self._Wout: np.ndarray | None = None
        self._bias: np.ndarray | None = None
        self._initializers: dict[str, Callable[..., object]] = {}
        for key, value in (("Wout", Wout), ("bias", bias)):
            if callable(value):
                self._initializers[key] = value
            elif value is not None:
                setattr(self, key, value)
        self.state = {"out": np.zeros(self.output_dim or 0)}

    # ------------------------------------------------------------------ weights (solved lazily)
    @property
    def Wout(self) -> np.ndarray | None:  # noqa: N802 (reservoirpy's name)
        """Output weights (input_dim, output_dim); solved from the accumulated statistics on access."""
        self._solve_pending()
        return self._Wout

    @Wout.setter
    def Wout(self, value: object) -> None:  # noqa: N802
        weights = np.array(as_float_array(value, "Wout"), dtype=np.float64)
        check_finite(weights, "Wout")
        if weights.ndim != 2:
            raise ValueError(f"Wout must have shape (input_dim, output_dim); got {weights.shape}")
        self._set_dims(*weights.shape)
        self._Wout, self._statistics = weights, None
        if self._bias is None:
            self._bias = np.zeros(weights.shape[1])

    @property
    def bias(self) -> np.ndarray | None:
        """Bias (output_dim,)."""
        self._solve_pending()
        return self._bias

    @bias.setter
    def bias(self, value: object) -> None:
        vector = np.ravel(np.array(as_float_array(value, "bias"), dtype=np.float64))
        check_finite(vector, "bias")
        self._set_dims(self.input_dim, len(vector))
        self._bias, self._statistics = vector, None

    def _set_dims(self, input_dim: int | None, output_dim: int | None) -> None:
        for attribute, value in (("input_dim", input_dim), ("output_dim", output_dim)):
            current = getattr(self, attribute)
            if value is not None and current is not None and current != value:
                raise ValueError(f"{self} has {attribute}={current}; got weights implying {value}")
            if value is not None:
                setattr(self, attribute, int(value))

    def _solve_pending(self) -> None:
        if self._solved or self._statistics is None:
            return
        self._Wout, self._bias = self._statistics.solve(self.ridge)
        self._solved = True

    # ------------------------------------------------------------------ reservoirpy node interface
    def initialize(self, x: object = None, y: object = None) -> None:
        """Set ``input_dim`` / ``output_dim`` from a sample of inputs and targets; call the initializers.

        ``Wout`` and ``bias`` given as initializers are drawn here, ``Wout(input_dim, output_dim)`` and
        ``bias(output_dim)`` as reservoirpy does, once both dimensions are known.
        """
        if x is not None:
            self._set_dims(resolve_input_dim(x, self.input_dim, owner=str(self)), None)
        if y is not None:
            if isinstance(y, list) and not y:
                raise ValueError(f"{self} needs targets with at least one series; got an empty list")
            sample = y[0] if isinstance(y, list) else np.asarray(y)
            output_dim = 1 if np.ndim(sample) == 1 and not isinstance(y, list) else int(np.shape(sample)[-1])
            self._set_dims(self.input_dim, output_dim)
        if self._initializers and self.input_dim is not None and self.output_dim is not None:
            initializers, self._initializers = self._initializers, {}
            if "Wout" in initializers:
                self.Wout = initializers["Wout"](self.input_dim, self.output_dim)
            if "bias" in initializers:
                self.bias = initializers["bias"](self.output_dim)
        self.state = {"out": np.zeros(self.output_dim or 0)}
        self.initialized = True

    def _weights_or_raise(self) -> tuple[np.ndarray, np.ndarray]:
        """``(Wout, bias)``, for the outputs of :class:`~cbreservoir.nodes._base.LinearReadoutMixin`."""
        weights, bias = self.Wout, self.bias
        if weights is None:
            raise ValueError(f"{self} is not fitted: call fit(X, Y) or partial_fit first, or pass Wout")
        return weights, bias

    # ------------------------------------------------------------------ fitting
    def fit(self, x: object, y: object = None, warmup: int = 0, workers: int = 1) -> Ridge:
        """Fit on all of ``x``, ``y`` at once (replaces any previous fit).

        Parameters
        ----------
        x : ndarray (T, d) or (S, T, d), or list of ndarray (T_i, d)
        y : per-step targets in the layout of ``x``, or per-series targets ``(S,)`` / ``(S, k)``
            A target row holding NaN marks a step (or series) without supervision: it is left out of
            the fit, as reservoirpy does. At least one row must be supervised; infinities are errors.
        warmup : int, default 0
            Steps discarded at the start of every series (per-step targets only), counted in time
            steps whether supervised or not.
        workers : int, default 1
            reservoirpy's number of joblib workers (-1: all), accepted with its values and not used:
            the statistics are accumulated in large chunks by BLAS, which uses all cores already.

        Returns
        -------
        Ridge
            ``self``, fitted.

        Notes
        -----
        With fewer training rows than inputs and ``ridge > 0``, the weights come from the dual (n, n)
        system (:func:`dual_solve`, as scikit-learn's ``Ridge`` does for wide data); the statistics are
        still accumulated, so a later :meth:`partial_fit` continues from them. Otherwise the fast path
        is a Cholesky solve of the accumulated normal equations. When the regularised
        Gram matrix is numerically singular (ill-conditioned states and a tiny ``ridge``), the
        weights are recomputed from the rows by ``numpy.linalg.lstsq`` instead. With
        ``gram_dtype="float32"``, a Gram matrix too ill-conditioned for float32 is first recomputed
        in float64.
        """
        check_n_jobs(workers, "workers")
        series, targets, unsupervised = self._check_fit_data(x, y, warmup)
        statistics = self._accumulate(series, targets, warmup, unsupervised, reset=True)
        if self.ridge > 0 and statistics.count < self.input_dim:  # fewer rows than inputs: the smaller system
            x_rows, y_rows = stacked_training_rows(series, targets, warmup, unsupervised)
            self._Wout, self._bias = dual_solve(x_rows, y_rows, ridge=self.ridge, fit_bias=self.fit_bias)
            self._statistics, self._solved = statistics, True
            return self
        weights = cholesky_solve(
            statistics.gram(), statistics.xy, ridge=self.ridge, min_rcond=statistics.min_rcond
        )
        if weights is None and statistics.gram_dtype == "float32":
            warnings.warn(
                "Ridge: the float32 Gram matrix is too ill-conditioned to trust (reciprocal condition "
                f"below {FLOAT32_GRAM_MIN_RCOND:g}); fitting again in float64. For such states "
                "gram_dtype='float64' is faster (one pass instead of two); a larger ridge also helps.",
                RuntimeWarning,
                stacklevel=2,
            )
            statistics = self._accumulate(
                series, targets, warmup, unsupervised, reset=True, gram_dtype="float64"
            )
            weights = cholesky_solve(statistics.gram(), statistics.xy, ridge=self.ridge)
        if weights is None:
            x_rows, y_rows = stacked_training_rows(series, targets, warmup, unsupervised)
            self._Wout, self._bias = lstsq_solve(x_rows, y_rows, ridge=self.ridge, fit_bias=self.fit_bias)
        else:
            self._Wout, self._bias = weights, statistics.intercept(weights)
        self._statistics, self._solved = statistics, True
        return self

    def partial_fit(self, x: object, y: object = None, warmup: int = 0, reset: bool = False) -> Ridge:
        """Add a chunk of data to the statistics; weights are re-solved lazily on next use.

        Streaming a dataset chunk by chunk gives the same weights (to rounding) as one :meth:`fit`
        on all of it, without holding all states in memory. Arguments as :meth:`fit`.

        Parameters
        ----------
        reset : bool, default False
            Drop the statistics accumulated so far (start a new fit).
        """
        series, targets, unsupervised = self._check_fit_data(x, y, warmup)
        self._statistics = self._accumulate(series, targets, warmup, unsupervised, reset)
        self._solved = False
        return self

    def _accumulate(
        self,
        series: Series,
        targets: Targets,
        warmup: int,
        unsupervised: list[np.ndarray] | None,
        reset: bool,
        gram_dtype: str | None = None,
    ) -> _Statistics:
        """Statistics of the training rows, merged into the running ones unless ``reset``.

        The running statistics are only touched once the new rows are all accumulated. ``gram_dtype``
        overrides the node's.
        """
        statistics = _Statistics(
            self.input_dim, self.output_dim, centered=self.fit_bias, gram_dtype=gram_dtype or self.gram_dtype
        )
        statistics.update(training_rows(series, targets, warmup, unsupervised))
        if reset or self._statistics is None:
            return statistics
        self._statistics.merge(statistics)
        return self._statistics

    def _check_fit_data(
        self, x: object, y: object, warmup: int
    ) -> tuple[Series, Targets, list[np.ndarray] | None]:
        """Validated inputs and targets, and the masks of the unsupervised (NaN) target rows or None."""
        if y is None:
            raise ValueError(f"{self} needs targets y; got None")
        series = check_series(x, n_features=self.input_dim, owner=str(self))
        ragged = series.layout == "ragged" and isinstance(y, Sequence) and not isinstance(y, (str, bytes))
        y, unsupervised = _split_unsupervised(y, ragged)
        targets = check_targets(series, y, n_outputs=self.output_dim)
        if not targets.per_series:
            check_warmup(warmup, series.lengths)
        if unsupervised is not None:
            masks = unsupervised if targets.per_series else [mask[warmup:] for mask in unsupervised]
            if all(mask.all() for mask in masks):
                after = "" if targets.per_series or not warmup else f" after the warmup of {warmup} steps"
                raise ValueError(f"Y has no supervised row{after}: every target row holds NaN")
        if not self.initialized:
            self.input_dim, self.output_dim = series.n_features, targets.n_outputs
            self.initialize()
        return series, targets, unsupervised


def _split_unsupervised(y: object, ragged: bool) -> tuple[object, list[np.ndarray] | None]:
    """Targets with their NaN rows set to 0, and a mask of those rows per target block.

    A row (a step's or a series' target vector) is unsupervised when any of its entries is NaN. Without
    NaN, ``y`` comes back as given and the masks as None. The masks follow the layout
    :func:`cbreservoir.nodes._base.training_rows` expects: one per series of a per-step ``y`` (a list, a
    3-D array), else one for the whole array (a single series' steps, or the per-series targets).
    ``ragged``: ``y`` is a list of per-series targets (as :func:`cbreservoir.utils.checks.check_targets`
    reads it for ragged inputs).
    """
    blocks = (
        [as_float_array(item, f"Y[{i}]") for i, item in enumerate(y)] if ragged else [as_float_array(y, "Y")]
    )
    nan = [np.isnan(block) for block in blocks]
    if not any(mask.any() for mask in nan):
        return y, None
    filled = [np.where(mask, 0.0, block) for block, mask in zip(blocks, nan, strict=True)]
    rows = [mask if mask.ndim <= 1 else mask.any(axis=-1) for mask in nan]
    if ragged:
        return filled, rows
    if filled[0].ndim == 3:
        return filled[0], list(rows[0])
    return filled[0], rows
