"""Closed-form ridge readout as a reservoirpy node: fast, streamable and numerically robust.

Fitting solves ``min_W ||X W + 1 b − Y||² + ridge ||W||²`` from sufficient statistics that are
accumulated chunk by chunk (so ``partial_fit`` can stream data that never sits in memory at once):

* the statistics are *centred per chunk* and merged with the pairwise (Chan et al.) update, so large
  state offsets do not cancel catastrophically (reservoirpy subtracts ``n·mean·meanᵀ`` from a raw
  ``XᵀX`` instead);
* ``XᵀX`` is a BLAS ``syrk`` (half the work of a general product), in float64 by default. With
  ``gram_dtype="float32"`` each centred chunk's product is an ``ssyrk`` (about twice as fast), summed
  in float64; a fit whose float32 Gram matrix is too ill-conditioned to trust (reciprocal condition
  below :data:`~cbreservoir.numerics.ridge.FLOAT32_GRAM_MIN_RCOND`: typical reservoir states with a
  small ``ridge``) is redone in float64 (``fit``) or warned about (streaming);
* the system is solved by Cholesky when it is well conditioned. When the regularised Gram matrix is
  numerically singular (nearly collinear states, tiny ``ridge``), ``fit`` recomputes the weights from
  the rows with ``numpy.linalg.lstsq``; streamed statistics fall back to a truncated
  eigendecomposition (the minimum-norm solution).

The statistics and the solvers are in :mod:`cbreservoir.numerics.ridge`.

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
from collections.abc import Callable, Sequence

import numpy as np
from reservoirpy.node import TrainableNode

from cbreservoir.nodes._base import (
    LinearReadoutMixin,
    ParameterStrMixin,
    stacked_training_rows,
    training_rows,
)
from cbreservoir.nodes.operators import ValidatedStepMixin
from cbreservoir.numerics.ridge import (
    FLOAT32_GRAM_MIN_RCOND,
    GRAM_DTYPES,
    GramStatistics,
    cholesky_solve,
    dual_solve,
    lstsq_solve,
)
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

__all__ = ["Ridge"]


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
        ill-conditioned (:data:`~cbreservoir.numerics.ridge.FLOAT32_GRAM_MIN_RCOND`; typical reservoir
        states with a small ``ridge``), :meth:`fit` warns and fits again in float64, and streamed fits warn.

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
        self._statistics: GramStatistics | None = None
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
    ) -> GramStatistics:
        """Statistics of the training rows, merged into the running ones unless ``reset``.

        The running statistics are only touched once the new rows are all accumulated. ``gram_dtype``
        overrides the node's.
        """
        statistics = GramStatistics(
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
